import { createHash } from 'node:crypto';
import {
  Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createLogger } from '@wharf/observability';
import { eventually } from '@wharf/testing';
import { Registry } from 'prom-client';
import { DataPlane } from './data-plane';
import type { Action, Listener, Rule, TargetGroup } from '@wharf/domain';
import type { TargetHealthReport } from './health-checker';
import { LbMetrics } from './lb-metrics';
import { loadBalancerSpec, resource, target, targetGroupSpec } from './lb-test-fixtures';

jest.setTimeout(60_000);

// ---------------------------------------------------------------- backends

interface Backend {
  name: string;
  port: number;
  server: Server;
  /** connections that carried proxied requests (health checks have their own) */
  proxiedConnections: Set<unknown>;
  healthStatus: number;
  /** requests to /slow wait until this is called */
  releaseSlow(): void;
  slowStarted: Promise<void>;
}

async function startBackend(name: string): Promise<Backend> {
  let release!: () => void;
  let released = new Promise<void>((r) => (release = r));
  let markSlowStarted!: () => void;
  const backend: Backend = {
    name,
    port: 0,
    proxiedConnections: new Set(),
    healthStatus: 200,
    server: undefined as unknown as Server,
    releaseSlow: () => release(),
    slowStarted: new Promise<void>((r) => (markSlowStarted = r)),
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      res.writeHead(backend.healthStatus).end();
      return;
    }
    backend.proxiedConnections.add(req.socket);
    if (path === '/echo') {
      res.writeHead(200, { 'x-backend': name, 'content-type': 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    if (path === '/big') {
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size'));
      res.writeHead(200, { 'x-backend': name });
      Readable.from(chunks(size)).pipe(res);
      return;
    }
    if (path.endsWith('/slow')) {
      markSlowStarted();
      void released.then(() => {
        res.writeHead(200, { 'x-backend': name });
        res.end(`${name} slow done`);
      });
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      res.end(JSON.stringify({ backend: name, url: req.url, headers: req.headers }));
    });
  });
  server.on('upgrade', (req, socket) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nX-Backend: ${name}\r\n\r\n`,
    );
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.server = server;
  backend.port = (server.address() as AddressInfo).port;
  // a fresh gate (and start signal) for the next slow request
  backend.releaseSlow = () => {
    release();
    released = new Promise<void>((r) => (release = r));
    backend.slowStarted = new Promise<void>((r) => (markSlowStarted = r));
  };
  return backend;
}

function* chunks(size: number): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz');
  for (let sent = 0; sent < size; sent += chunk.length) {
    yield sent + chunk.length <= size ? chunk : chunk.subarray(0, size - sent);
  }
}

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ---------------------------------------------------------------- client

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  reusedSocket: boolean;
}

function call(
  port: number,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    agent?: Agent;
    body?: Readable;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
            reusedSocket: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body) options.body.pipe(req);
    else req.end();
  });
}

const backendOf = (reply: Reply) => reply.headers['x-backend'];

/**
 * Writes `text` on one new connection (then ends its side of it, with `end`) and returns
 * everything read until the lb closes it.
 */
function rawExchange(port: number, text: string, { end = false } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => parts.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no end of connection in 5 s')));
    if (end) socket.end(text, 'latin1');
    else socket.write(text, 'latin1');
  });
}

/** The status codes of the responses in a raw exchange, in order. */
const statusesIn = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
/** The URLs the default backend echoed, in order. */
const urlsIn = (text: string) => [...text.matchAll(/"url":"([^"]*)"/g)].map((m) => m[1]);

// ---------------------------------------------------------------- resources

const ARN = 'arn:aws:elasticloadbalancing:us-east-1:000000000000';
const LB = `${ARN}:loadbalancer/app/web/1`;
const LISTENER = `${ARN}:listener/app/web/1/main`;
const tgArn = (name: string) => `${ARN}:targetgroup/${name}/1`;

const fastHealthCheck: TargetGroup['healthCheck'] = {
  path: '/health',
  port: 'traffic-port',
  intervalSeconds: 0.1,
  timeoutSeconds: 0.5,
  healthyThresholdCount: 2,
  unhealthyThresholdCount: 2,
  matcher: { httpCode: '200-299' },
};

const forward = (name: string): Action => ({ type: 'forward', targetGroupArn: tgArn(name) });

describe('lb data plane with in-process backends', () => {
  const logger = createLogger('lb-test', 'silent');
  const reports: TargetHealthReport[] = [];
  let a: Backend, b: Backend, c: Backend, d: Backend;
  let deadPort: number;
  let port: number;
  let plane: DataPlane;
  let registry: Registry;
  const versions = new Map<string, number>();
  const nextVersion = (key: string) => {
    const v = (versions.get(key) ?? 0) + 1;
    versions.set(key, v);
    return v;
  };

  const putListener = (listenerPort: number, defaultActions: Action[], arn = LISTENER) => {
    const spec: Listener = {
      listenerArn: arn,
      loadBalancerArn: LB,
      port: listenerPort,
      protocol: 'HTTP',
      defaultActions,
    };
    plane.model.putResource(resource('listener', spec, nextVersion(arn)));
  };
  const putRule = (priority: number, conditions: Rule['conditions'], actions: Action[]) => {
    const spec: Rule = {
      ruleArn: `${LISTENER}/rule/${priority}`,
      listenerArn: LISTENER,
      priority,
      conditions,
      actions,
    };
    plane.model.putResource(resource('rule', spec, nextVersion(spec.ruleArn)));
  };
  const putGroup = (name: string, overrides: Partial<TargetGroup> = {}) =>
    plane.model.putResource(
      resource(
        'target-group',
        targetGroupSpec(tgArn(name), { healthCheck: fastHealthCheck, ...overrides }),
        nextVersion(tgArn(name)),
      ),
    );
  const putTarget = (group: string, backendPort: number, state = 'healthy') =>
    plane.model.putTarget(
      target(tgArn(group), '127.0.0.1', backendPort, {
        state,
        version: nextVersion(`${group}|${backendPort}`),
      }),
    );

  beforeAll(async () => {
    [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map(startBackend));
    deadPort = await freePort();
    port = await freePort();
    const metrics = new LbMetrics();
    registry = new Registry();
    metrics.register(registry);
    plane = new DataPlane({
      logger,
      metrics,
      reportTargetHealth: async (r) => {
        reports.push(...r);
      },
      bindHost: '127.0.0.1',
      maxSocketsPerTarget: 16,
      targetIdleSocketMs: 4000,
      closeGraceMs: 500,
    });
    plane.model.putResource(resource('load-balancer', loadBalancerSpec(LB, 30), 1));
    for (const g of ['a', 'b', 'dead', 'empty']) putGroup(g);
    putTarget('a', a.port);
    putTarget('b', b.port);
    putTarget('dead', deadPort);
    putListener(port, [forward('a')]);
    putRule(10, [{ field: 'path-pattern', values: ['/b/*'] }], [forward('b')]);
    putRule(20, [{ field: 'host-header', values: ['B.example.*'] }], [forward('b')]);
    putRule(30, [{ field: 'path-pattern', values: ['/dead'] }], [forward('dead')]);
    putRule(40, [{ field: 'path-pattern', values: ['/empty'] }], [forward('empty')]);
    putRule(
      50,
      [{ field: 'path-pattern', values: ['/fixed'] }],
      [
        {
          type: 'fixed-response',
          fixedResponseConfig: {
            statusCode: '418',
            contentType: 'application/json',
            messageBody: '{"tea":true}',
          },
        },
      ],
    );
    putRule(
      60,
      [{ field: 'path-pattern', values: ['/old/*'] }],
      [
        {
          type: 'redirect',
          redirectConfig: { statusCode: 'HTTP_301', host: 'new.example.com', path: '/new/#{path}' },
        },
      ],
    );
    await plane.proxy.ready();
  });

  afterAll(async () => {
    await plane?.stop();
    await Promise.all([a, b, c, d].map((s) => s && new Promise((r) => s.server.close(r))));
  });

  it('routes by path and by host, else to the default action', async () => {
    expect(backendOf(await call(port, '/b/anything'))).toBe('b');
    expect(backendOf(await call(port, '/x', { headers: { host: 'b.EXAMPLE.com:8080' } }))).toBe(
      'b',
    );
    expect(backendOf(await call(port, '/bee'))).toBe('a');
    expect(backendOf(await call(port, '/'))).toBe('a');
  });

  it('keeps client connections alive and pools connections to targets', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    await call(port, '/warm', { agent });
    const before = a.proxiedConnections.size;
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await call(port, `/k${i}`, { agent }));
    agent.destroy();
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(replies.every((r) => r.reusedSocket)).toBe(true);
    // sequential requests reuse the pooled connection to the target
    expect(a.proxiedConnections.size - before).toBe(0);
  });

  it('streams a large body to the target and back, and a large response', async () => {
    const size = 24 * 1024 * 1024 + 17;
    const expected = createHash('sha256');
    for (const chunk of chunks(size)) expected.update(chunk);
    const digest = expected.digest('hex');
    const echoed = await call(port, '/echo', {
      method: 'POST',
      body: Readable.from(chunks(size)),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(echoed.status).toBe(200);
    expect(echoed.body.length).toBe(size);
    expect(createHash('sha256').update(echoed.body).digest('hex')).toBe(digest);
    const big = await call(port, `/big?size=${size}`);
    expect(big.body.length).toBe(size);
    expect(createHash('sha256').update(big.body).digest('hex')).toBe(digest);
  });

  it('preserves Host and adds X-Forwarded-For (appended), -Proto and -Port', async () => {
    const reply = await call(port, '/headers?q=1', {
      headers: {
        host: 'shop.example.org',
        'x-forwarded-for': '203.0.113.9',
        connection: 'keep-alive',
      },
    });
    const seen = JSON.parse(reply.body.toString()) as { url: string; headers: IncomingHttpHeaders };
    expect(seen.url).toBe('/headers?q=1');
    expect(seen.headers.host).toBe('shop.example.org');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-port']).toBe(String(port));
  });

  it('passes WebSocket upgrades through and pipes both ways', async () => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write(
      'GET /b/socket HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const text = () => Buffer.concat(received).toString();
    await eventually(
      async () => (text().includes('\r\n\r\n') ? true : undefined),
      'the 101',
      5000,
      20,
    );
    expect(text()).toMatch(/^HTTP\/1\.1 101 /);
    expect(text()).toMatch(/X-Backend: b/i);
    received.length = 0;
    socket.write('ping across the upgrade');
    await eventually(
      async () => (text() === 'ping across the upgrade' ? true : undefined),
      'the echo',
      5000,
      20,
    );
    socket.destroy();
  });

  it('answers 502 when the target refuses, 503 when the group has no target', async () => {
    const dead = await call(port, '/dead');
    expect(dead.status).toBe(502);
    expect(dead.body.toString()).toContain('502 Bad Gateway');
    const empty = await call(port, '/empty');
    expect(empty.status).toBe(503);
  });

  it('serves fixed responses and redirects', async () => {
    const fixed = await call(port, '/fixed');
    expect(fixed.status).toBe(418);
    expect(fixed.headers['content-type']).toBe('application/json');
    expect(fixed.body.toString()).toBe('{"tea":true}');
    const moved = await call(port, '/old/page?x=1', { headers: { host: 'shop.example.org' } });
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe(`http://new.example.com:${port}/new/old/page?x=1`);
  });

  it('takes a target out of rotation when its health checks fail, and back', async () => {
    putGroup('h');
    putTarget('h', c.port);
    putTarget('h', d.port);
    putRule(70, [{ field: 'path-pattern', values: ['/h/*'] }], [forward('h')]);
    const spread = async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) seen.add(String(backendOf(await call(port, '/h/x'))));
      return [...seen].sort().join(',');
    };
    expect(await spread()).toBe('c,d');
    d.healthStatus = 500;
    await eventually(
      async () => ((await spread()) === 'c' ? true : undefined),
      'd to leave',
      10_000,
      50,
    );
    await eventually(
      async () =>
        reports.some(
          (r) =>
            r.targetGroupArn === tgArn('h') &&
            r.port === d.port &&
            r.state === 'unhealthy' &&
            r.reason === 'Target.ResponseCodeMismatch',
        )
          ? true
          : undefined,
      'the unhealthy report',
      5000,
      50,
    );
    const before = reports.length;
    d.healthStatus = 200;
    await eventually(
      async () => ((await spread()) === 'c,d' ? true : undefined),
      'd to return',
      10_000,
      50,
    );
    await eventually(
      async () =>
        reports.slice(before).some((r) => r.port === d.port && r.state === 'healthy')
          ? true
          : undefined,
      'the healthy report',
      5000,
      50,
    );
    // a result that changes nothing is not reported again
    const settled = reports.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(reports.length).toBe(settled);
  });

  it('gives a draining target no new requests while its requests in flight finish', async () => {
    putGroup('drain');
    putTarget('drain', c.port);
    putRule(80, [{ field: 'path-pattern', values: ['/drain/*'] }], [forward('drain')]);
    const inFlight = call(port, '/drain/slow');
    await c.slowStarted;
    putTarget('drain', d.port);
    putTarget('drain', c.port, 'draining');
    for (let i = 0; i < 4; i++) expect(backendOf(await call(port, '/drain/x'))).toBe('d');
    c.releaseSlow();
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(finished.body.toString()).toBe('c slow done');
  });

  it('changes a live listener without dropping an open keep-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(backendOf(await call(port, '/live', { agent }))).toBe('a');
    putListener(port, [
      {
        type: 'fixed-response',
        fixedResponseConfig: { statusCode: '200', messageBody: 'changed' },
      },
    ]);
    const after = await call(port, '/live', { agent });
    expect(after.reusedSocket).toBe(true);
    expect(after.body.toString()).toBe('changed');
    putListener(port, [forward('a')]);
    const back = await call(port, '/live', { agent });
    expect(back.reusedSocket).toBe(true);
    expect(backendOf(back)).toBe('a');
    agent.destroy();
  });

  it('opens and closes listener ports as listeners come and go', async () => {
    const other = await freePort();
    const arn = `${LISTENER}-2`;
    putListener(other, [forward('b')], arn);
    await plane.proxy.ready();
    expect(backendOf(await call(other, '/'))).toBe('b');
    // a WebSocket open through it is closed after the grace period (500 ms here)
    const socket = connect(other, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    await eventually(
      async () =>
        Buffer.concat(received).toString().startsWith('HTTP/1.1 101') ? true : undefined,
      'the upgrade',
      5000,
      20,
    );
    plane.model.deleteResource({ arn, version: nextVersion(arn) });
    await eventually(
      async () =>
        call(other, '/').then(
          () => undefined,
          () => true,
        ),
      'the port to close',
      5000,
      50,
    );
    await closed;
  });

  it('closes client connections idle for longer than the load balancer idle timeout', async () => {
    plane.model.putResource(resource('load-balancer', loadBalancerSpec(LB, 1), 2));
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(
      async () => (Buffer.concat(received).toString().includes('"backend":"a"') ? true : undefined),
      'the response',
      5000,
      20,
    );
    const answered = Date.now();
    const at = await closed;
    expect(at - answered).toBeGreaterThan(700);
    expect(at - answered).toBeLessThan(2500);
    plane.model.putResource(resource('load-balancer', loadBalancerSpec(LB, 30), 3));
  });

  it('answers requests pipelined on one connection in order', async () => {
    const text = await rawExchange(
      port,
      'GET /p1 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /b/p2 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /p3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statusesIn(text)).toEqual(['200', '200', '200']);
    expect(urlsIn(text)).toEqual(['/p1', '/b/p2', '/p3']);
    // only the last response, which the client asked to be the last, closes; the others say
    // how long the connection stays open, as node's server does
    expect(text.match(/\r\nConnection: close\r\n/gi)).toHaveLength(1);
    expect(text.match(/\r\nKeep-Alive: timeout=30\r\n/gi)).toHaveLength(2);
  });

  it('answers thousands of pipelined requests answered at once without recursing', async () => {
    const requests = 'GET /fixed HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5000);
    const text = await rawExchange(
      port,
      `${requests}GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const statuses = statusesIn(text);
    expect(statuses).toHaveLength(5001);
    expect(statuses.filter((s) => s === '418')).toHaveLength(5000);
    expect(urlsIn(text)).toEqual(['/last']);
  });

  it('stops reading pipelined requests from a client that does not read its answers', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause(); // never reads
    const request = Buffer.from('GET /fixed HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1000));
    for (let i = 0; i < 1000; i++) socket.write(request); // ~36 MB of requests
    // The lb reads until its answers fill the client's socket, then stops: what the client
    // wrote stays queued on its side, instead of as answers in the lb's memory.
    let last = -1;
    await eventually(
      async () => {
        const now = socket.writableLength;
        const settled = now === last;
        last = now;
        return settled ? true : undefined;
      },
      'the client’s writes to stop draining',
      30_000,
      500,
    );
    expect(socket.writableLength).toBeGreaterThan(10 * 1024 * 1024);
    socket.destroy();
    expect((await call(port, '/after-backpressure')).status).toBe(200);
  });

  it('hands a connection to node’s server mid-way for a request with a body', async () => {
    const text = await rawExchange(
      port,
      'GET /before HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello there' +
        'GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statusesIn(text)).toEqual(['200', '200', '200']);
    expect(urlsIn(text)).toEqual(['/before', '/after']);
    expect(text.indexOf('hello there')).toBeGreaterThan(text.indexOf('"url":"/before"'));
    expect(text.indexOf('hello there')).toBeLessThan(text.indexOf('"url":"/after"'));
  });

  it('leaves malformed and unusual requests to node’s parser', async () => {
    // HTTP/1.1 without Host, and a header name with a space: node answers 400 and closes
    expect(statusesIn(await rawExchange(port, 'GET /nohost HTTP/1.1\r\n\r\n'))).toEqual(['400']);
    const badName = 'GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n';
    expect(statusesIn(await rawExchange(port, badName))).toEqual(['400']);
    // a request after a good one on the same connection is judged the same way
    const text = await rawExchange(
      port,
      `GET /good HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\nX: a\u0001b\r\n\r\n`,
    );
    expect(statusesIn(text)).toEqual(['200', '400']);
    expect(urlsIn(text)).toEqual(['/good']);
    // HTTP/1.0 is served by node's server, and closed after its response
    const old = await rawExchange(port, 'GET /ten HTTP/1.0\r\n\r\n');
    expect(statusesIn(old)).toEqual(['200']);
    expect(urlsIn(old)).toEqual(['/ten']);
    // a head cut short by the client's FIN: 400, as node answers it
    const cut = await rawExchange(port, 'GET /cut HTTP/1.1\r\nHost: x\r\n', { end: true });
    expect(statusesIn(cut)).toEqual(['400']);
    // a head larger than node's limit: 431
    const huge = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`;
    expect(statusesIn(await rawExchange(port, huge))).toEqual(['431']);
    // and the listener serves on
    expect((await call(port, '/still-here')).status).toBe(200);
  });

  it('sends no body for HEAD and keeps the connection for the next request', async () => {
    const text = await rawExchange(
      port,
      'HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statusesIn(text)).toEqual(['200', '200']);
    expect(urlsIn(text)).toEqual(['/g']);
  });

  it('routes on a header as node would join it', async () => {
    putRule(
      70,
      [
        {
          field: 'http-header',
          httpHeaderConfig: { httpHeaderName: 'X-Team', values: ['*blue*'] },
        },
      ],
      [forward('b')],
    );
    try {
      await eventually(async () => {
        const reply = await call(port, '/team', { headers: { 'x-team': 'red' } });
        expect(backendOf(reply)).toBe('a');
        // two X-Team headers reach the rule as one value, "red, blue"
        const text = await rawExchange(
          port,
          'GET /team HTTP/1.1\r\nHost: x\r\nX-Team: red\r\nX-Team: blue\r\nConnection: close\r\n\r\n',
        );
        expect(text).toMatch(/x-backend: b\r\n/i);
        return true;
      }, 'the header rule');
    } finally {
      const arn = `${LISTENER}/rule/70`;
      plane.model.deleteResource({ arn, version: nextVersion(arn) });
    }
  });

  it('answers 502 for a target whose reason phrase cannot be sent on, and serves on', async () => {
    // A target answering `200 O<0x01>K`: node's parser takes it, node's writeHead refuses it.
    const bad = createTcpServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () =>
        socket.end('HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi'),
      );
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    try {
      putGroup('bad-reason');
      putTarget('bad-reason', (bad.address() as AddressInfo).port);
      putRule(70, [{ field: 'path-pattern', values: ['/bad-reason*'] }], [forward('bad-reason')]);
      // node's path (a request with a body) and the fast path
      const posted = await call(port, '/bad-reason', {
        method: 'POST',
        headers: { 'content-length': '5' },
        body: Readable.from([Buffer.from('hello')]),
      });
      expect(posted.status).toBe(502);
      expect((await call(port, '/bad-reason')).status).toBe(502);
      expect((await call(port, '/still-serving')).status).toBe(200);
    } finally {
      await new Promise((r) => bad.close(r));
    }
  });

  it('answers 504 when the target stays silent longer than the idle timeout', async () => {
    plane.model.putResource(resource('load-balancer', loadBalancerSpec(LB, 1), 4));
    const started = Date.now();
    const reply = await call(port, '/b/slow');
    expect(reply.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThan(700);
    b.releaseSlow();
    plane.model.putResource(resource('load-balancer', loadBalancerSpec(LB, 30), 5));
    expect((await call(port, '/b/after-timeout')).status).toBe(200);
  });

  it('counts a request whose client leaves before the answer as 0xx, on either path', async () => {
    const abandoned = async () =>
      Number(
        new RegExp(`wharf_lb_requests_total\\{port="${port}",status_class="0xx"\\} (\\d+)`).exec(
          await registry.metrics(),
        )?.[1] ?? 0,
      );
    const requests = [
      'GET /b/slow HTTP/1.1\r\nHost: x\r\n\r\n', // the fast path
      'POST /b/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi', // node's server
    ];
    for (const [i, text] of requests.entries()) {
      const before = await abandoned();
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(text, 'latin1');
      await b.slowStarted;
      // a reset, not a FIN: after a FIN a client may still be waiting for its answer
      socket.resetAndDestroy();
      await eventually(
        async () => ((await abandoned()) === before + 1 ? true : undefined),
        `abandoned request ${i} counted`,
      );
      b.releaseSlow();
    }
  });

  it('counts requests by listener and status class, and target errors', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(
      new RegExp(`wharf_lb_requests_total\\{port="${port}",status_class="2xx"\\} \\d+`),
    );
    expect(text).toMatch(
      new RegExp(`wharf_lb_requests_total\\{port="${port}",status_class="5xx"\\} [1-9]`),
    );
    expect(text).toMatch(
      /wharf_lb_target_errors_total\{target_group="[^"]*dead[^"]*",kind="ECONNREFUSED"\} [1-9]/,
    );
    expect(text).toMatch(
      /wharf_lb_upstream_duration_seconds_count\{target_group="[^"]*\/a\/1"\} [1-9]/,
    );
    // connections, and those that node's server took (bodies, upgrades, malformed heads)
    const accepted = Number(
      new RegExp(`wharf_lb_client_connections_total\\{port="${port}"\\} (\\d+)`).exec(text)?.[1],
    );
    const toNode = Number(
      new RegExp(`wharf_lb_client_connections_to_node_total\\{port="${port}"\\} (\\d+)`).exec(
        text,
      )?.[1],
    );
    expect(toNode).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(toNode);
  });
});
