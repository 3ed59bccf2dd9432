import {
  Agent,
  createServer,
  request as httpRequest,
  STATUS_CODES,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Counter } from 'prom-client';
import type { Logger } from '@wharf/observability';
import type { LbMetrics } from './lb-metrics';
import { retireTarget, type ListenerRuntime, type LiveConfig } from './live-config';
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
}

type ForwardAction = Extract<CompiledAction, { type: 'forward' }>;

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
    private readonly live: LiveConfig,
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
      }
    }
  }
}

class ListenerServer {
  private runtime: ListenerRuntime;
  private readonly server: Server;
  /** requests counter children by status class (index = status / 100) */
  private readonly requestsByClass: ReturnType<Counter<'port' | 'status_class'>['labels']>[];
  readonly listening: Promise<boolean>;
  private readonly portString: string;
  /** upgraded connections, which the HTTP server no longer tracks */
  private readonly upgraded = new Set<Duplex>();

  constructor(
    runtime: ListenerRuntime,
    private readonly live: LiveConfig,
    private readonly metrics: LbMetrics,
    private readonly logger: Logger,
    private readonly options: ProxyOptions,
  ) {
    this.runtime = runtime;
    this.portString = String(runtime.port);
    this.requestsByClass = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'].map((c) =>
      metrics.requests.labels(this.portString, c),
    );
    // No whole-request deadline (uploads may be long): the load balancer's idle timeout
    // bounds each connection's inactivity instead, as ALB's does.
    this.server = createServer({ requestTimeout: 0, noDelay: true });
    this.applyTimeouts();
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
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
    this.server.keepAliveTimeout = this.runtime.idleTimeoutMs;
    this.server.timeout = this.runtime.idleTimeoutMs;
  }

  /**
   * Stops accepting; connections busy now are closed as their requests finish, and whatever
   * is still open after the grace period (long requests, WebSockets) is closed then.
   */
  async close(): Promise<void> {
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const sweep = setInterval(() => this.server.closeIdleConnections(), 250);
    const deadline = setTimeout(() => {
      this.server.closeAllConnections();
      for (const socket of this.upgraded) socket.destroy();
    }, this.options.closeGraceMs ?? 10_000);
    await done;
    clearInterval(sweep);
    clearTimeout(deadline);
  }

  // ------------------------------------------------------------ HTTP

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const runtime = this.runtime;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const routeReq: RouteRequest = {
      method: req.method ?? 'GET',
      host: req.headers.host ?? '',
      path: q < 0 ? url : url.slice(0, q),
      query: q < 0 ? '' : url.slice(q + 1),
      headers: req.headers,
      sourceIp: req.socket.remoteAddress ?? '',
    };
    const action = route(runtime.router, routeReq);
    res.once('close', () => {
      const child = this.requestsByClass[(res.statusCode / 100) | 0];
      if (child) child.inc();
    });
    switch (action.type) {
      case 'forward':
        return this.forward(req, res, action, routeReq, url);
      case 'fixed-response':
        res.writeHead(action.statusCode, {
          'content-type': action.contentType,
          'content-length': action.body.length,
        });
        res.end(action.body);
        return;
      case 'redirect':
        res.writeHead(action.statusCode, {
          location: redirectLocation(action, {
            protocol: 'http',
            host: hostWithoutPort(routeReq.host),
            port: runtime.port,
            path: routeReq.path,
            query: routeReq.query,
          }),
          'content-length': 0,
        });
        res.end();
        return;
    }
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    action: ForwardAction,
    routeReq: RouteRequest,
    url: string,
  ): void {
    const chosen = this.choose(action, req.headers.cookie);
    if (!chosen) {
      sendError(res, 503);
      return;
    }
    const { pool, target } = chosen;
    const groupArn = pool.group.targetGroupArn;
    const headers = forwardedHeaders(req, routeReq.sourceIp, this.portString, false);
    const bodyless =
      req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    const retryable = bodyless && BODYLESS_RETRYABLE.has(routeReq.method);
    const agent = (target.agent ??= new Agent({
      keepAlive: true,
      maxSockets: this.options.maxSocketsPerTarget,
      maxFreeSockets: this.options.maxSocketsPerTarget,
      timeout: this.options.targetIdleSocketMs,
      scheduling: 'lifo',
    }));
    const idleTimeoutMs = this.runtime.idleTimeoutMs;
    target.outstanding++;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      target.outstanding--;
      if (target.removed) retireTarget(target);
    };
    let upstream: ClientRequest;
    const started = performance.now();

    const send = (attempt: number) => {
      upstream = httpRequest({
        host: target.host,
        port: target.port,
        method: routeReq.method,
        path: url,
        headers,
        agent,
      });
      upstream.setTimeout(idleTimeoutMs);
      upstream.on('timeout', () => upstream.destroy(new UpstreamTimeout()));
      upstream.on('response', (ures) => {
        this.metrics.upstreamFor(groupArn).observe((performance.now() - started) / 1000);
        const out: OutgoingHttpHeaders = {};
        const h = ures.headers;
        for (const name in h) if (!RESPONSE_HOP_BY_HOP.has(name)) out[name] = h[name];
        if (chosen.cookies.length > 0) {
          const existing = out['set-cookie'];
          out['set-cookie'] = existing
            ? [...(existing as string[]), ...chosen.cookies]
            : chosen.cookies;
        }
        res.writeHead(ures.statusCode ?? 502, ures.statusMessage, out);
        ures.pipe(res);
        ures.on('error', () => res.destroy());
        ures.on('aborted', () => res.destroy());
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
        if (!res.headersSent) sendError(res, timeout ? 504 : 502);
        else res.destroy();
      });
      if (bodyless) upstream.end();
      else req.pipe(upstream);
    };
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
      finish();
    });
    send(0);
  }

  /** The target group and target for a forward, and the stickiness cookies to set. */
  private choose(
    action: ForwardAction,
    cookieHeader: string | undefined,
  ): { pool: TargetPool; target: TargetRuntime; cookies: string[] } | undefined {
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
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const routeReq: RouteRequest = {
      method: req.method ?? 'GET',
      host: req.headers.host ?? '',
      path: q < 0 ? url : url.slice(0, q),
      query: q < 0 ? '' : url.slice(q + 1),
      headers: req.headers,
      sourceIp: req.socket.remoteAddress ?? '',
    };
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
    const chosen = this.choose(action, req.headers.cookie);
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
    const headers = forwardedHeaders(req, routeReq.sourceIp, this.portString, true);
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

class UpstreamTimeout extends Error {
  override name = 'UpstreamTimeout';
}

/** The headers sent to the target: the client's, less hop-by-hop ones, plus X-Forwarded-*. */
function forwardedHeaders(
  req: IncomingMessage,
  sourceIp: string,
  port: string,
  upgrade: boolean,
): OutgoingHttpHeaders {
  const h = req.headers;
  const out: OutgoingHttpHeaders = {};
  for (const name in h) if (!HOP_BY_HOP.has(name)) out[name] = h[name];
  if (upgrade) {
    out.connection = 'Upgrade';
    if (h.upgrade !== undefined) out.upgrade = h.upgrade;
  }
  const client = normalizeIp(sourceIp);
  const prior = h['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  out['x-forwarded-proto'] = 'http';
  out['x-forwarded-port'] = port;
  return out;
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

function sendError(res: ServerResponse, status: number): void {
  const body = errorBody(status);
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': body.length });
  res.end(body);
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
