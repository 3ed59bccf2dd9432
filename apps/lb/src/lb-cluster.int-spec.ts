import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { createLogger } from '@wharf/observability';
import { eventually } from '@wharf/testing';
import type { Action, Listener, Rule, TargetGroup } from '@wharf/domain';
import { ControlPlane } from './control-plane';
import type { TargetHealthReport } from './health-checker';
import { ClusterOpsServer, LbCluster } from './lb-cluster';
import { LbMetrics } from './lb-metrics';
import { loadBalancerSpec, resource, target, targetGroupSpec } from './lb-test-fixtures';
import { WORKER_HEADER } from './proxy';

jest.setTimeout(90_000);

/**
 * The multi-process lb with real worker processes: the control plane runs here (this process
 * is the cluster primary), its model fed directly as data-plane.int-spec.ts does, and two
 * workers started from the TypeScript sources serve the listener.
 */

interface Backend {
  name: string;
  port: number;
  server: Server;
  healthStatus: number;
  release(): void;
  slowStarted: Promise<void>;
}

async function startBackend(name: string): Promise<Backend> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let markSlow!: () => void;
  const backend: Backend = {
    name,
    port: 0,
    server: undefined as unknown as Server,
    healthStatus: 200,
    release: () => release(),
    slowStarted: new Promise<void>((r) => (markSlow = r)),
  };
  backend.server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(backend.healthStatus).end();
      return;
    }
    if (req.url === '/slow') {
      markSlow();
      void released.then(() => res.writeHead(200, { 'x-backend': name }).end('slow done'));
      return;
    }
    res.writeHead(200, { 'x-backend': name }).end(name);
  });
  backend.server.on('upgrade', (req, socket) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nX-Backend: ${name}\r\n\r\n`,
    );
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => backend.server.listen(0, '127.0.0.1', resolve));
  backend.port = (backend.server.address() as AddressInfo).port;
  return backend;
}

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on a connection of its own (so the primary hands each to a worker in turn). */
function call(
  port: number,
  urlPath: string,
  timeoutMs = 5000,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: urlPath, agent: false, headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const workerOf = (r: Reply) => String(r.headers[WORKER_HEADER]);

const ARN = 'arn:aws:elasticloadbalancing:us-east-1:000000000000';
const LB = `${ARN}:loadbalancer/app/cluster/1`;
const LISTENER = `${ARN}:listener/app/cluster/1/main`;
const GROUP = `${ARN}:targetgroup/web/1`;

const fastHealthCheck: TargetGroup['healthCheck'] = {
  path: '/health',
  port: 'traffic-port',
  intervalSeconds: 0.1,
  timeoutSeconds: 0.5,
  healthyThresholdCount: 2,
  unhealthyThresholdCount: 2,
  matcher: { httpCode: '200' },
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('lb with two worker processes', () => {
  const logger = createLogger('lb-test', 'silent');
  const reports: TargetHealthReport[] = [];
  let a: Backend, b: Backend;
  let port: number;
  let control: ControlPlane;
  let lbCluster: LbCluster;
  let ops: ClusterOpsServer;
  let version = 10;

  const putTarget = (backend: Backend, state = 'healthy') =>
    control.model.putTarget(
      target(GROUP, '127.0.0.1', backend.port, { state, version: ++version }),
    );
  const putRule = (priority: number, conditions: Rule['conditions'], actions: Action[]) => {
    const spec: Rule = {
      ruleArn: `${LISTENER}/rule/${priority}`,
      listenerArn: LISTENER,
      priority,
      conditions,
      actions,
    };
    control.model.putResource(resource('rule', spec, ++version));
  };
  /** Requests on fresh connections until both workers have answered (or `n` were sent). */
  const spread = async (urlPath: string, n = 24) => {
    const replies: Reply[] = [];
    for (let i = 0; i < n; i++) replies.push(await call(port, urlPath));
    return replies;
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
    port = await freePort();
    const metrics = new LbMetrics();
    control = new ControlPlane({
      logger,
      metrics,
      reportTargetHealth: async (r) => {
        reports.push(...r);
      },
    });
    lbCluster = new LbCluster(control.live, {
      workers: 2,
      logger,
      logLevel: 'silent',
      proxy: {
        bindHost: '127.0.0.1',
        maxSocketsPerTarget: 16,
        targetIdleSocketMs: 4000,
        closeGraceMs: 3000,
        debugHeaders: true,
      },
      // The workers run the TypeScript sources through the bench's launcher.
      exec: path.resolve(__dirname, '../../../test/bench/run.js'),
      args: [path.join(__dirname, 'worker-main.ts')],
      stopTimeoutMs: 3000,
    });
    control.model.putResource(resource('load-balancer', loadBalancerSpec(LB, 30), 1));
    control.model.putResource(
      resource('target-group', targetGroupSpec(GROUP, { healthCheck: fastHealthCheck }), 1),
    );
    putTarget(a);
    putTarget(b);
    const listener: Listener = {
      listenerArn: LISTENER,
      loadBalancerArn: LB,
      port,
      protocol: 'HTTP',
      defaultActions: [{ type: 'forward', targetGroupArn: GROUP }],
    };
    control.model.putResource(resource('listener', listener, 1));
    await lbCluster.start();
    ops = new ClusterOpsServer('lb', logger, lbCluster);
    metrics.register(ops.registry);
    lbCluster.registerMetrics(ops.registry);
    await ops.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await control?.stop();
    await lbCluster?.stop();
    await ops?.close();
    await Promise.all([a, b].map((s) => s && new Promise((r) => s.server.close(r))));
  });

  it('serves requests from more than one worker process, to every target', async () => {
    const replies = await spread('/hello');
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const workers = new Set(replies.map(workerOf));
    expect([...workers].sort()).toEqual(lbCluster.pids().map(String).sort());
    expect(workers.size).toBe(2);
    expect(workers.has(String(process.pid))).toBe(false);
    expect(new Set(replies.map((r) => r.body))).toEqual(new Set(['a', 'b']));
  });

  it('aggregates the workers’ request counts on the primary’s metrics endpoint', async () => {
    const before = await requestCount();
    await spread('/counted', 10);
    await eventually(
      async () => ((await requestCount()) - before === 10 ? true : undefined),
      'the 10 requests to be counted across workers',
      5000,
      50,
    );
    const text = await (await fetch(`http://127.0.0.1:${ops.port()}/metrics`)).text();
    expect(text).toMatch(/^wharf_lb_workers(\{[^}]*\})? 2$/m);
    // the listener is open in each worker, and counted once
    expect(text).toMatch(/^wharf_lb_listeners(\{[^}]*\})? 1$/m);
  });

  async function requestCount(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${ops.port()}/metrics`)).text();
    const m = new RegExp(
      `^wharf_lb_requests_total\\{port="${port}",status_class="2xx"[^}]*\\} (\\d+)$`,
      'm',
    ).exec(text);
    return m ? Number(m[1]) : 0;
  }

  it('applies a new rule and a removed target in every worker', async () => {
    // a keep-alive connection open across the change carries on with the new rule
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const viaKeepAlive = (urlPath: string) =>
      new Promise<{ body: string; reused: boolean }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: urlPath, agent: keepAlive }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ body, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end();
      });
    expect((await viaKeepAlive('/new/before')).body).toMatch(/^[ab]$/);
    putRule(
      10,
      [{ field: 'path-pattern', values: ['/new/*'] }],
      [
        {
          type: 'fixed-response',
          fixedResponseConfig: { statusCode: '200', messageBody: 'from the new rule' },
        },
      ],
    );
    await lbCluster.ready();
    expect(await viaKeepAlive('/new/after')).toEqual({ body: 'from the new rule', reused: true });
    keepAlive.destroy();
    const ruled = await spread('/new/x', 12);
    expect(ruled.map((r) => r.body)).toEqual(Array(12).fill('from the new rule'));
    expect(new Set(ruled.map(workerOf)).size).toBe(2);

    control.model.deleteTarget(target(GROUP, '127.0.0.1', b.port, { version: ++version }));
    await lbCluster.ready();
    const after = await spread('/after', 12);
    expect(after.map((r) => r.body)).toEqual(Array(12).fill('a'));
    expect(new Set(after.map(workerOf)).size).toBe(2);
    putTarget(b);
    await lbCluster.ready();
  });

  it('follows the primary’s health checks in every worker', async () => {
    const before = reports.length;
    b.healthStatus = 500;
    // b was registered again at the end of the test before: until a check finds it, it may be
    // out of rotation as a new target, so wait for the check that finds it unhealthy first.
    await eventually(
      async () =>
        reports.slice(before).some((r) => r.port === b.port && r.state === 'unhealthy')
          ? true
          : undefined,
      'the primary to find b unhealthy',
      10_000,
      50,
    );
    await eventually(
      async () => {
        const replies = await spread('/h', 12);
        return replies.every((r) => r.body === 'a') && new Set(replies.map(workerOf)).size === 2
          ? true
          : undefined;
      },
      'b to leave rotation in both workers',
      10_000,
      100,
    );
    b.healthStatus = 200;
    await eventually(
      async () =>
        new Set((await spread('/h', 12)).map((r) => r.body)).size === 2 ? true : undefined,
      'b to return',
      10_000,
      100,
    );
  });

  it('keeps a sticky client on its target whichever worker serves it', async () => {
    control.model.putResource(
      resource(
        'target-group',
        targetGroupSpec(GROUP, {
          healthCheck: fastHealthCheck,
          stickiness: { enabled: true, type: 'lb_cookie', durationSeconds: 60 },
        }),
        ++version,
      ),
    );
    await lbCluster.ready();
    const first = await call(port, '/sticky');
    const setCookie = String(first.headers['set-cookie']);
    const cookie = /AWSALB=[^;]+/.exec(setCookie)?.[0];
    expect(cookie).toBeDefined();
    const replies: Reply[] = [];
    for (let i = 0; i < 12; i++) {
      replies.push(await call(port, '/sticky', 5000, { cookie: `other=1; ${cookie}` }));
    }
    expect(new Set(replies.map((r) => r.body))).toEqual(new Set([first.body]));
    expect(new Set(replies.map(workerOf)).size).toBe(2);
    control.model.putResource(
      resource('target-group', targetGroupSpec(GROUP, { healthCheck: fastHealthCheck }), ++version),
    );
    await lbCluster.ready();
  });

  it('passes WebSocket upgrades through a worker, and answers 503 for an empty group', async () => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    const text = () => Buffer.concat(received).toString();
    await eventually(
      async () => (text().includes('\r\n\r\n') ? true : undefined),
      'the 101',
      5000,
      20,
    );
    expect(text()).toMatch(/^HTTP\/1\.1 101 /);
    received.length = 0;
    socket.write('ping');
    await eventually(async () => (text() === 'ping' ? true : undefined), 'the echo', 5000, 20);
    socket.destroy();

    const EMPTY = `${ARN}:targetgroup/empty/1`;
    control.model.putResource(resource('target-group', targetGroupSpec(EMPTY), 1));
    putRule(
      20,
      [{ field: 'path-pattern', values: ['/empty'] }],
      [{ type: 'forward', targetGroupArn: EMPTY }],
    );
    await lbCluster.ready();
    const replies = await spread('/empty', 6);
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(503));
    expect(new Set(replies.map(workerOf)).size).toBe(2);
  });

  it('replaces a killed worker while requests keep succeeding', async () => {
    const [victim, survivor] = lbCluster.pids();
    let failures = 0;
    let successes = 0;
    let running = true;
    const seen = new Set<string>();
    const load = (async () => {
      while (running) {
        try {
          const r = await call(port, '/during', 3000);
          if (r.status === 200) {
            successes++;
            seen.add(workerOf(r));
          } else failures++;
        } catch {
          failures++;
        }
      }
    })();
    await eventually(async () => (successes >= 20 ? true : undefined), 'load', 5000, 10);
    process.kill(victim, 'SIGKILL');
    const replacement = await eventually(
      async () => lbCluster.pids().find((p) => p !== victim && p !== survivor),
      'a replacement worker',
      20_000,
      50,
    );
    await lbCluster.ready();
    const atReplacement = successes;
    await eventually(
      async () => (seen.has(String(replacement)) ? true : undefined),
      'the replacement to serve',
      20_000,
      50,
    );
    running = false;
    await load;
    expect(alive(victim)).toBe(false);
    expect(lbCluster.pids().sort()).toEqual([survivor, replacement].sort());
    expect(successes).toBeGreaterThan(atReplacement);
    // At most the one request in flight on the killed worker fails.
    expect(failures).toBeLessThanOrEqual(1);
    const text = await (await fetch(`http://127.0.0.1:${ops.port()}/metrics`)).text();
    expect(text).toMatch(/^wharf_lb_worker_restarts_total(\{[^}]*\})? 1$/m);
  });

  it('drains the workers on stop: a request in flight finishes', async () => {
    const pids = lbCluster.pids();
    const inFlight = call(port, '/slow', 10_000);
    await Promise.race([a.slowStarted, b.slowStarted]);
    const stopped = lbCluster.stop();
    await new Promise((r) => setTimeout(r, 300));
    a.release();
    b.release();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('slow done');
    await stopped;
    expect(pids.some(alive)).toBe(false);
    await expect(call(port, '/gone', 2000)).rejects.toThrow();
  });
});
