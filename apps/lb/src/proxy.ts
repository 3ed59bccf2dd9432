import {
  Agent,
  createServer,
  request as httpRequest,
  STATUS_CODES,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Counter } from 'prom-client';
import type { Logger } from '@wharf/observability';
import type { LbMetrics } from './lb-metrics';
import {
  FastConnection,
  headersFromRaw,
  type FastHandler,
  type FastRequest,
  type FastResponse,
} from './fast-connection';
import { UpstreamPool } from './upstream-pool';
import { retireTarget, type ListenerRuntime, type LiveView } from './live-config';
import {
  hostWithoutPort,
  normalizeIp,
  redirectLocation,
  route,
  type CompiledAction,
  type RouteRequest,
} from './routing';
import {
  cookieValue,
  GROUP_STICKINESS_COOKIE,
  pickGroup,
  TARGET_STICKINESS_COOKIE,
  type TargetPool,
  type TargetRuntime,
} from './target-pool';

export interface ProxyOptions {
  /** the address every listener binds */
  bindHost: string;
  /** at most this many connections to one target */
  maxSocketsPerTarget: number;
  /** an idle pooled connection to a target is closed after this long */
  targetIdleSocketMs: number;
  /**
   * how long a closing listener waits for its busy connections (WebSockets included) before
   * it closes them; default 10 s
   */
  closeGraceMs?: number;
  /**
   * a response header naming the process that served the request (`x-wharf-lb-worker: <pid>`),
   * for tests and debugging of the multi-process lb (LB_DEBUG_HEADERS); off by default
   */
  debugHeaders?: boolean;
  /**
   * serve every client connection with node's HTTP server and send every request through
   * node's `http.request`, instead of the lb's own fast path for requests without a body
   * (fast-connection.ts, upstream-pool.ts); for comparison and as a way out
   */
  nodeHttpOnly?: boolean;
}

/** The response header `debugHeaders` adds. */
export const WORKER_HEADER = 'x-wharf-lb-worker';

type ForwardAction = Extract<CompiledAction, { type: 'forward' }>;

/** Where a forwarded request goes, and the stickiness cookies to set. */
interface Chosen {
  pool: TargetPool;
  target: TargetRuntime;
  cookies: string[];
}

/**
 * Where a response goes: node's ServerResponse (NodeResponse), or a fast-path connection
 * (FastResponse).
 */
interface ClientResponse {
  readonly headersSent: boolean;
  /**
   * `headers`: name/value pairs; `contentLength`: the body's length if `headers` give it,
   * else -1. Throws if node refuses a header.
   */
  writeHead(status: number, message: string, headers: string[], contentLength: number): void;
  /** false when the client's connection is full: wait for `onceDrain` */
  write(chunk: Buffer): boolean;
  onceDrain(fn: () => void): void;
  end(body?: Buffer): void;
  /** cuts the response short: the client's connection is closed */
  destroy(): void;
  /** `fn(status, finished)` once, when the response is written whole or the client has gone */
  onClose(fn: (status: number, finished: boolean) => void): void;
}

class NodeResponse implements ClientResponse {
  constructor(private readonly res: ServerResponse) {}

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  writeHead(status: number, message: string, headers: string[]): void {
    this.res.writeHead(status, message, headers);
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onceDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  end(body?: Buffer): void {
    this.res.end(body);
  }

  destroy(): void {
    this.res.destroy();
  }

  onClose(fn: (status: number, finished: boolean) => void): void {
    const res = this.res;
    // No head sent: the client left before an answer, counted as status 0 on both paths.
    res.once('close', () => fn(res.headersSent ? res.statusCode : 0, res.writableFinished));
  }
}

/** Request headers that belong to one connection and are not passed on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-port',
]);
const RESPONSE_HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'trailer',
  'upgrade',
]);
const BODYLESS_RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** A response body up to this size (with a Content-Length) is sent with its headers at once. */
const SMALL_BODY_BYTES = 16 * 1024;

/**
 * The data plane: one HTTP server per listener port, following the live configuration. A
 * change of rules swaps the listener's compiled configuration under its open server, so
 * connections that are open keep working; a listener removed stops accepting and lets its
 * open connections finish.
 */
export class ProxyManager {
  private readonly servers = new Map<number, ListenerServer>();
  private closed = false;

  constructor(
    private readonly live: LiveView,
    private readonly metrics: LbMetrics,
    private readonly logger: Logger,
    private readonly options: ProxyOptions,
  ) {
    live.onChange(() => this.sync());
  }

  /** Opens, updates and closes listener servers to match the configuration. */
  sync(): void {
    if (this.closed) return;
    for (const [port, runtime] of this.live.listeners) {
      const held = this.servers.get(port);
      if (held) held.update(runtime);
      else this.open(runtime);
    }
    for (const [port, held] of this.servers) {
      if (!this.live.listeners.has(port)) {
        this.servers.delete(port);
        void held.close();
        this.logger.info({ port }, 'listener closed');
      }
    }
    this.metrics.openListeners.set(this.servers.size);
  }

  /** Resolves once every configured listener is accepting (or failed to). */
  async ready(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => s.listening));
  }

  openPorts(): number[] {
    return [...this.servers.keys()];
  }

  private open(runtime: ListenerRuntime): void {
    const server = new ListenerServer(runtime, this.live, this.metrics, this.logger, this.options);
    this.servers.set(runtime.port, server);
    server.listening.then(
      (ok) => {
        if (ok)
          this.logger.info(
            { port: runtime.port, listenerArn: runtime.listenerArn },
            'listener open',
          );
        else if (this.servers.get(runtime.port) === server) this.servers.delete(runtime.port); // retried on the next sync
      },
      () => undefined,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(all.map((s) => s.close()));
    for (const pool of this.live.pools.values()) {
      for (const t of pool.targets.values()) {
        t.agent?.destroy();
        t.agent = undefined;
        t.upstream?.destroy();
        t.upstream = undefined;
      }
    }
  }
}

class ListenerServer implements FastHandler {
  private runtime: ListenerRuntime;
  private readonly server: Server;
  /** requests counter children by status class (index = status / 100) */
  private readonly requestsByClass: ReturnType<Counter<'port' | 'status_class'>['labels']>[];
  readonly listening: Promise<boolean>;
  private readonly portString: string;
  /** upgraded connections, which the HTTP server no longer tracks */
  private readonly upgraded = new Set<Duplex>();
  /** connections on the fast path (those handed to node's server are its to track) */
  private readonly fast = new Set<FastConnection>();
  /** node's HTTP server's own 'connection' listeners, which take a connection handed off */
  private readonly nodeConnectionListeners: ((socket: Socket) => void)[];
  private readonly connectionsAccepted: ReturnType<Counter<'port'>['labels']>;
  private readonly connectionsToNode: ReturnType<Counter<'port'>['labels']>;

  constructor(
    runtime: ListenerRuntime,
    private readonly live: LiveView,
    private readonly metrics: LbMetrics,
    private readonly logger: Logger,
    private readonly options: ProxyOptions,
  ) {
    this.runtime = runtime;
    this.portString = String(runtime.port);
    this.requestsByClass = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'].map((c) =>
      metrics.requests.labels(this.portString, c),
    );
    this.connectionsAccepted = metrics.connections.labels(this.portString);
    this.connectionsToNode = metrics.connectionsToNode.labels(this.portString);
    // No whole-request deadline (uploads may be long): the load balancer's idle timeout
    // bounds each connection's inactivity instead, as ALB's does.
    this.server = createServer({ requestTimeout: 0, noDelay: true });
    this.applyTimeouts();
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    // New connections start on the fast path; node's server gets those that need it.
    this.nodeConnectionListeners = this.server.listeners('connection') as ((s: Socket) => void)[];
    if (options.nodeHttpOnly) {
      this.server.on('connection', () => {
        this.connectionsAccepted.inc();
        this.connectionsToNode.inc();
      });
    } else {
      this.server.removeAllListeners('connection');
      this.server.on('connection', (socket: Socket) => this.accept(socket));
    }
    this.listening = new Promise((resolve) => {
      this.server.once('error', (err) => {
        this.logger.error({ err, port: runtime.port }, 'listener cannot open its port');
        resolve(false);
      });
      this.server.listen(runtime.port, options.bindHost, () => resolve(true));
    });
  }

  update(runtime: ListenerRuntime): void {
    if (runtime === this.runtime) return;
    const timeoutChanged = runtime.idleTimeoutMs !== this.runtime.idleTimeoutMs;
    this.runtime = runtime;
    if (timeoutChanged) this.applyTimeouts();
  }

  private applyTimeouts(): void {
    const ms = this.runtime.idleTimeoutMs;
    this.server.keepAliveTimeout = ms;
    this.server.timeout = ms;
    for (const c of this.fast) c.setIdleTimeout(ms);
  }

  /**
   * Stops accepting; connections busy now are closed as their requests finish, and whatever
   * is still open after the grace period (long requests, WebSockets) is closed then.
   */
  async close(): Promise<void> {
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    for (const c of this.fast) c.closeWhenIdle();
    const sweep = setInterval(() => this.server.closeIdleConnections(), 250);
    const deadline = setTimeout(() => {
      this.server.closeAllConnections();
      for (const c of this.fast) c.socket.destroy();
      for (const socket of this.upgraded) socket.destroy();
    }, this.options.closeGraceMs ?? 10_000);
    await done;
    clearInterval(sweep);
    clearTimeout(deadline);
  }

  // ------------------------------------------------------------ HTTP

  private accept(socket: Socket): void {
    const connection = new FastConnection(socket, this, this.runtime.idleTimeoutMs, (c) =>
      this.fast.delete(c),
    );
    this.fast.add(connection);
    this.connectionsAccepted.inc();
  }

  /** FastHandler: a connection the fast path cannot serve goes to node's HTTP server. */
  handOff(socket: Socket): void {
    this.connectionsToNode.inc();
    for (const listener of this.nodeConnectionListeners) listener.call(this.server, socket);
  }

  /** FastHandler: a request without a body, read by the fast path. */
  request(request: FastRequest, response: FastResponse): void {
    const forwarded = scanRequestHeaders(request.rawHeaders);
    const routeReq = new ProxiedRequest(
      request.method,
      request.url,
      forwarded.host,
      request.sourceIp,
      request.rawHeaders,
    );
    this.serve(routeReq, request.url, forwarded, response);
  }

  /** A request node's HTTP server read: one with a body, or on a connection handed to it. */
  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const { url, forwarded, routeReq } = nodeRequest(req);
    this.serve(routeReq, url, forwarded, new NodeResponse(res), { req, res });
  }

  /** Routes a request and answers it; `node`: node's request and response, if it came that way. */
  private serve(
    routeReq: ProxiedRequest,
    url: string,
    forwarded: ScannedHeaders,
    response: ClientResponse,
    node?: { req: IncomingMessage; res: ServerResponse },
  ): void {
    const action = route(this.runtime.router, routeReq);
    switch (action.type) {
      case 'forward': {
        const chosen = this.choose(action, forwarded.cookie);
        if (!chosen) {
          response.onClose((status) => this.count(status));
          sendError(response, 503, this.options.debugHeaders);
          return;
        }
        const headers = this.forwardedHeaders(chosen.target, routeReq, forwarded);
        const retryable = !forwarded.hasBody && BODYLESS_RETRYABLE.has(routeReq.method);
        if (node && (forwarded.hasBody || this.options.nodeHttpOnly)) {
          this.forwardThroughNode(node.req, node.res, chosen, routeReq.method, url, headers, {
            bodyless: !forwarded.hasBody,
            retryable,
          });
        } else {
          this.forwardBodyless(response, chosen, routeReq.method, url, headers, retryable);
        }
        return;
      }
      case 'fixed-response': {
        response.onClose((status) => this.count(status));
        const length = action.body.length;
        const headers = ['content-type', action.contentType, 'content-length', String(length)];
        if (this.options.debugHeaders) headers.push(WORKER_HEADER, PID);
        response.writeHead(
          action.statusCode,
          STATUS_CODES[action.statusCode] ?? '',
          headers,
          length,
        );
        response.end(action.body);
        return;
      }
      case 'redirect': {
        response.onClose((status) => this.count(status));
        const location = redirectLocation(action, {
          protocol: 'http',
          host: hostWithoutPort(routeReq.host),
          port: this.runtime.port,
          path: routeReq.path,
          query: routeReq.query,
        });
        const headers = ['location', location, 'content-length', '0'];
        if (this.options.debugHeaders) headers.push(WORKER_HEADER, PID);
        response.writeHead(action.statusCode, STATUS_CODES[action.statusCode] ?? '', headers, 0);
        response.end();
        return;
      }
    }
  }

  private count(status: number): void {
    const child = this.requestsByClass[(status / 100) | 0];
    if (child) child.inc();
  }

  /** The headers for the target: the client's, less hop-by-hop ones, plus X-Forwarded-*. */
  private forwardedHeaders(
    target: TargetRuntime,
    routeReq: RouteRequest,
    forwarded: ScannedHeaders,
  ): string[] {
    const headers = forwarded.out;
    if (!forwarded.hasHost) {
      // an HTTP/1.0 client sent none: the target's address, as node's client would send
      const host = target.host.includes(':') ? `[${target.host}]` : target.host;
      headers.push('Host', `${host}:${target.port}`);
    }
    const client = normalizeIp(routeReq.sourceIp);
    headers.push(
      'X-Forwarded-For',
      forwarded.forwardedFor === undefined ? client : `${forwarded.forwardedFor}, ${client}`,
      'X-Forwarded-Proto',
      'http',
      'X-Forwarded-Port',
      this.portString,
    );
    return headers;
  }

  /**
   * A request with a body (or any, with `nodeHttpOnly`) through node's `http.request` and a
   * keep-alive Agent per target, the body piped from the client.
   */
  private forwardThroughNode(
    req: IncomingMessage,
    res: ServerResponse,
    chosen: Chosen,
    method: string,
    url: string,
    headers: string[],
    { bodyless, retryable }: { bodyless: boolean; retryable: boolean },
  ): void {
    const { pool, target } = chosen;
    const groupArn = pool.group.targetGroupArn;
    const agent = (target.agent ??= new Agent({
      keepAlive: true,
      maxSockets: this.options.maxSocketsPerTarget,
      maxFreeSockets: this.options.maxSocketsPerTarget,
      timeout: this.options.targetIdleSocketMs,
      scheduling: 'lifo',
    }));
    const idleTimeoutMs = this.runtime.idleTimeoutMs;
    const debugHeaders = this.options.debugHeaders;
    target.outstanding++;
    let finished = false;
    let upstream: ClientRequest;
    const started = performance.now();

    const send = (attempt: number) => {
      upstream = httpRequest({
        host: target.host,
        port: target.port,
        method,
        path: url,
        headers,
        agent,
      });
      upstream.setTimeout(idleTimeoutMs);
      upstream.on('timeout', () => upstream.destroy(new UpstreamTimeout()));
      upstream.on('response', (ures) => {
        this.metrics.upstreamFor(groupArn).observe((performance.now() - started) / 1000);
        const raw = ures.rawHeaders;
        const out: string[] = [];
        let length = -1;
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i];
          if (isResponseHopByHop(name)) continue;
          if (name.length === 14 && name.toLowerCase() === 'content-length') {
            length = Number(raw[i + 1]);
          }
          out.push(name, raw[i + 1]);
        }
        for (const cookie of chosen.cookies) out.push('Set-Cookie', cookie);
        if (debugHeaders) out.push(WORKER_HEADER, PID);
        const status = ures.statusCode ?? 502;
        let failed = false;
        const fail = () => {
          if (failed) return;
          failed = true;
          if (res.headersSent) res.destroy();
          else sendError(new NodeResponse(res), 502, debugHeaders);
        };
        ures.on('error', fail);
        ures.on('aborted', fail);
        // Node's parser takes a reason phrase that node then refuses to send (a control
        // character): such an answer is unusable, a 502, as on the fast path (not a throw in
        // this listener, which would take the process down).
        const writeHead = () => {
          try {
            res.writeHead(status, ures.statusMessage, out);
            return true;
          } catch {
            ures.destroy();
            fail();
            return false;
          }
        };
        if (length < 0 || length > SMALL_BODY_BYTES) {
          if (writeHead()) ures.pipe(res);
          return;
        }
        // A small body of known length goes out with the headers in one write (piping
        // costs a write, and a system call, per step); large or unknown ones stream.
        let body: Buffer | undefined;
        let parts: Buffer[] | undefined;
        ures.on('data', (chunk: Buffer) => {
          if (body === undefined) body = chunk;
          else (parts ??= [body]).push(chunk);
        });
        ures.on('end', () => {
          if (failed || !writeHead()) return;
          res.end(parts ? Buffer.concat(parts) : body);
        });
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (finished) return;
        if (
          attempt === 0 &&
          retryable &&
          upstream.reusedSocket &&
          err.code === 'ECONNRESET' &&
          !res.headersSent
        ) {
          // The target closed an idle pooled connection just as it was reused.
          send(1);
          return;
        }
        const timeout = err instanceof UpstreamTimeout;
        this.metrics.targetErrors
          .labels(groupArn, timeout ? 'timeout' : (err.code ?? 'error'))
          .inc();
        if (!res.headersSent) sendError(new NodeResponse(res), timeout ? 504 : 502, debugHeaders);
        else res.destroy();
      });
      if (bodyless) upstream.end();
      else req.pipe(upstream);
    };
    // One listener for the end of the exchange: count it, release the target.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
      this.count(res.headersSent ? res.statusCode : 0);
      if (finished) return;
      finished = true;
      target.outstanding--;
      if (target.removed) retireTarget(target);
    });
    send(0);
  }

  /**
   * A request without a body (most requests) through the target's UpstreamPool: the head is
   * written as one string and the response passed on from the pool's parser, without node's
   * ClientRequest, Agent and IncomingMessage machinery.
   */
  private forwardBodyless(
    response: ClientResponse,
    chosen: Chosen,
    method: string,
    url: string,
    headers: string[],
    retryable: boolean,
  ): void {
    const { pool, target } = chosen;
    const groupArn = pool.group.targetGroupArn;
    let upstream = target.upstream;
    if (!upstream || upstream.host !== target.host) {
      upstream = target.upstream = new UpstreamPool({
        host: target.host,
        port: target.port,
        maxSockets: this.options.maxSocketsPerTarget,
        idleSocketMs: this.options.targetIdleSocketMs,
      });
    }
    let head = `${method} ${url} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    head += '\r\n';
    const debugHeaders = this.options.debugHeaders;
    const started = performance.now();
    target.outstanding++;
    let finished = false;
    let failed = false;
    // a small body of known length is sent with its head in one write
    let held: { status: number; message: string; out: string[]; length: number } | undefined;
    let body: Buffer | undefined;
    let parts: Buffer[] | undefined;
    const fail = (status: number) => {
      if (failed) return;
      failed = true;
      if (response.headersSent) response.destroy();
      else sendError(response, status, debugHeaders);
    };
    const writeHead = (status: number, message: string, out: string[], length: number) => {
      try {
        response.writeHead(status, message, out, length);
        return true;
      } catch {
        // a header node refuses to send (invalid characters): the target's answer is unusable
        exchange.abort();
        fail(502);
        return false;
      }
    };
    const exchange = upstream.request(
      head,
      method,
      {
        onHead: (status, message, raw, length) => {
          this.metrics.upstreamFor(groupArn).observe((performance.now() - started) / 1000);
          const out: string[] = [];
          for (let i = 0; i < raw.length; i += 2) {
            if (!isResponseHopByHop(raw[i])) out.push(raw[i], raw[i + 1]);
          }
          for (const cookie of chosen.cookies) out.push('Set-Cookie', cookie);
          if (debugHeaders) out.push(WORKER_HEADER, PID);
          if (length >= 0 && length <= SMALL_BODY_BYTES) held = { status, message, out, length };
          else writeHead(status, message, out, length);
        },
        onData: (chunk) => {
          if (failed) return;
          if (held) {
            if (body === undefined) body = chunk;
            else (parts ??= [body]).push(chunk);
            return;
          }
          if (!response.write(chunk)) {
            exchange.pause();
            response.onceDrain(() => exchange.resume());
          }
        },
        onEnd: () => {
          if (failed) return;
          if (held && !writeHead(held.status, held.message, held.out, held.length)) return;
          response.end(parts ? Buffer.concat(parts) : body);
        },
        onError: (err, timeout) => {
          if (finished) return;
          this.metrics.targetErrors
            .labels(groupArn, timeout ? 'timeout' : (err.code ?? 'error'))
            .inc();
          fail(timeout ? 504 : 502);
        },
      },
      this.runtime.idleTimeoutMs,
      retryable,
    );
    // One listener for the end of the exchange: count it, release the target.
    response.onClose((status, completed) => {
      if (!completed) exchange.abort();
      this.count(status);
      if (finished) return;
      finished = true;
      target.outstanding--;
      if (target.removed) retireTarget(target);
    });
  }

  /** The target group and target for a forward, and the stickiness cookies to set. */
  private choose(action: ForwardAction, cookieHeader: string | undefined): Chosen | undefined {
    const pools = this.live.pools;
    const groupSticky = action.groupStickinessSeconds > 0 && action.groups.length > 1;
    const group = pickGroup(
      action.groups,
      action.totalWeight,
      groupSticky ? cookieValue(cookieHeader, GROUP_STICKINESS_COOKIE) : undefined,
      (arn) => pools.get(arn)?.groupStickyId ?? '',
    );
    if (!group) return undefined;
    const pool = pools.get(group.targetGroupArn);
    if (!pool) return undefined;
    const pick = pool.pick(
      pool.group.stickiness.enabled
        ? cookieValue(cookieHeader, TARGET_STICKINESS_COOKIE)
        : undefined,
      Date.now(),
    );
    if (!pick) return undefined;
    const cookies: string[] = [];
    if (groupSticky) {
      cookies.push(
        `${GROUP_STICKINESS_COOKIE}=${pool.groupStickyId}; Max-Age=${action.groupStickinessSeconds}; Path=/`,
      );
    }
    if (pick.cookie) cookies.push(pick.cookie);
    return { pool, target: pick.target, cookies };
  }

  // ------------------------------------------------------------ WebSocket and other upgrades

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const runtime = this.runtime;
    const { url, forwarded, routeReq } = nodeRequest(req);
    socket.on('error', () => socket.destroy());
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    const action = route(runtime.router, routeReq);
    if (action.type === 'fixed-response') {
      writeRaw(socket, action.statusCode, { 'content-type': action.contentType }, action.body);
      return;
    }
    if (action.type === 'redirect') {
      const location = redirectLocation(action, {
        protocol: 'http',
        host: hostWithoutPort(routeReq.host),
        port: runtime.port,
        path: routeReq.path,
        query: routeReq.query,
      });
      writeRaw(socket, action.statusCode, { location }, Buffer.alloc(0));
      return;
    }
    const chosen = this.choose(action, forwarded.cookie);
    if (!chosen) {
      writeRaw(socket, 503, { 'content-type': 'text/html' }, errorBody(503));
      return;
    }
    const { target } = chosen;
    const groupArn = chosen.pool.group.targetGroupArn;
    target.outstanding++;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      target.outstanding--;
      if (target.removed) retireTarget(target);
    };
    (socket as Socket).setTimeout?.(runtime.idleTimeoutMs, () => socket.destroy());
    const headers = this.forwardedHeaders(target, routeReq, forwarded);
    headers.push('Connection', 'Upgrade');
    if (req.headers.upgrade !== undefined) headers.push('Upgrade', req.headers.upgrade);
    // An upgraded connection leaves the pool anyway: it gets a connection of its own.
    const upstream = httpRequest({
      host: target.host,
      port: target.port,
      method: routeReq.method,
      path: url,
      headers,
      agent: false,
    });
    upstream.setTimeout(runtime.idleTimeoutMs, () => upstream.destroy(new UpstreamTimeout()));
    socket.once('close', () => {
      upstream.destroy();
      finish();
    });
    upstream.on('upgrade', (ures, upSocket, upHead) => {
      upstream.setTimeout(0);
      upSocket.setTimeout(runtime.idleTimeoutMs, () => upSocket.destroy());
      let reply = `HTTP/1.1 101 ${ures.statusMessage || 'Switching Protocols'}\r\n`;
      const raw = ures.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) reply += `${raw[i]}: ${raw[i + 1]}\r\n`;
      if (chosen.cookies.length > 0) {
        for (const c of chosen.cookies) reply += `Set-Cookie: ${c}\r\n`;
      }
      socket.write(`${reply}\r\n`);
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.on('error', () => socket.destroy());
      upSocket.on('close', () => socket.destroy());
      socket.on('close', () => upSocket.destroy());
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });
    upstream.on('response', (ures) => {
      // The target declined the upgrade: pass its answer on and close.
      let reply = `HTTP/1.1 ${ures.statusCode} ${ures.statusMessage ?? ''}\r\n`;
      const raw = ures.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        if (!RESPONSE_HOP_BY_HOP.has(raw[i].toLowerCase())) reply += `${raw[i]}: ${raw[i + 1]}\r\n`;
      }
      socket.write(`${reply}connection: close\r\n\r\n`);
      ures.pipe(socket);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      const timeout = err instanceof UpstreamTimeout;
      this.metrics.targetErrors.labels(groupArn, timeout ? 'timeout' : (err.code ?? 'error')).inc();
      if (socket.writable)
        writeRaw(
          socket,
          timeout ? 504 : 502,
          { 'content-type': 'text/html' },
          errorBody(timeout ? 504 : 502),
        );
      else socket.destroy();
    });
    upstream.end();
  }
}

/** The request as routing sees it; `headers` is built only if a rule asks for it. */
class ProxiedRequest implements RouteRequest {
  readonly path: string;
  readonly query: string;
  private built?: IncomingHttpHeaders;

  constructor(
    readonly method: string,
    url: string,
    readonly host: string,
    readonly sourceIp: string,
    private readonly rawHeaders: string[],
  ) {
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.query = q < 0 ? '' : url.slice(q + 1);
  }

  get headers(): IncomingHttpHeaders {
    return (this.built ??= headersFromRaw(this.rawHeaders));
  }
}

/** What one pass over a request's raw headers found. */
interface ScannedHeaders {
  /** the headers to send to the target, as name/value pairs: the client's less hop-by-hop ones */
  out: string[];
  /** the (first) Host header, or '' */
  host: string;
  hasHost: boolean;
  /** Cookie headers, joined with '; ' as node does */
  cookie: string | undefined;
  /** X-Forwarded-For headers, joined with ', ' */
  forwardedFor: string | undefined;
  /** a Content-Length or Transfer-Encoding: the request has a body to stream */
  hasBody: boolean;
}

function scanRequestHeaders(raw: string[]): ScannedHeaders {
  const out: string[] = [];
  let host = '';
  let hasHost = false;
  let hasLength = false;
  let cookie: string | undefined;
  let forwardedFor: string | undefined;
  let hasBody = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    // A name of none of these lengths is none of these headers: it is passed on as it is.
    if (!SCANNED_LENGTHS.has(name.length)) {
      out.push(name, value);
      continue;
    }
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        if (hasHost) continue; // a duplicate Host is dropped, as node's req.headers does
        hasHost = true;
        host = value;
        break;
      case 'cookie':
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        break;
      case 'content-length':
        if (hasLength) continue;
        hasLength = true;
        hasBody = true;
        break;
      case 'transfer-encoding':
        hasBody = true;
        break;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      default:
        if (HOP_BY_HOP.has(lower)) continue;
    }
    out.push(name, value);
  }
  return { out, host, hasHost, cookie, forwardedFor, hasBody };
}

const SCANNED_LENGTHS = new Set(
  [...HOP_BY_HOP, 'host', 'cookie', 'content-length', 'transfer-encoding'].map((h) => h.length),
);
const RESPONSE_HOP_BY_HOP_LENGTHS = new Set([...RESPONSE_HOP_BY_HOP].map((h) => h.length));

function isResponseHopByHop(name: string): boolean {
  return (
    RESPONSE_HOP_BY_HOP_LENGTHS.has(name.length) && RESPONSE_HOP_BY_HOP.has(name.toLowerCase())
  );
}

const PID = String(process.pid);

class UpstreamTimeout extends Error {
  override name = 'UpstreamTimeout';
}

const ERROR_BODIES = new Map<number, Buffer>();
function errorBody(status: number): Buffer {
  let body = ERROR_BODIES.get(status);
  if (!body) {
    const text = `${status} ${STATUS_CODES[status] ?? ''}`;
    body = Buffer.from(
      `<html>\r\n<head><title>${text}</title></head>\r\n<body>\r\n<center><h1>${text}</h1></center>\r\n</body>\r\n</html>\r\n`,
    );
    ERROR_BODIES.set(status, body);
  }
  return body;
}

function sendError(response: ClientResponse, status: number, debugHeaders = false): void {
  const body = errorBody(status);
  const headers = ['content-type', 'text/html', 'content-length', String(body.length)];
  if (debugHeaders) headers.push(WORKER_HEADER, PID);
  response.writeHead(status, STATUS_CODES[status] ?? '', headers, body.length);
  response.end(body);
}

function writeRaw(
  socket: Duplex,
  status: number,
  headers: Record<string, string>,
  body: Buffer,
): void {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head), body]));
}

/**
 * A request node's server read, as routing and forwarding take it: one pass over the raw
 * headers picks what they need and builds the headers for the target.
 */
function nodeRequest(req: IncomingMessage): {
  url: string;
  forwarded: ScannedHeaders;
  routeReq: ProxiedRequest;
} {
  const url = req.url ?? '/';
  const forwarded = scanRequestHeaders(req.rawHeaders);
  const routeReq = new ProxiedRequest(
    req.method ?? 'GET',
    url,
    forwarded.host,
    req.socket.remoteAddress ?? '',
    req.rawHeaders,
  );
  return { url, forwarded, routeReq };
}
