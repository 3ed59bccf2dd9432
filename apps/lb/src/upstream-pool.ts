import { connect, type Socket } from 'node:net';

/**
 * What the proxy hears of one exchange with a target. Exactly one of `onEnd` and `onError`
 * is called, once; `onHead` comes before `onData` and `onEnd`.
 */
export interface UpstreamHandler {
  onHead(status: number, statusMessage: string, rawHeaders: string[], contentLength: number): void;
  /** body bytes, the handler's to keep */
  onData(chunk: Buffer): void;
  onEnd(): void;
  /** `timeout`: the target said nothing for the exchange's timeout */
  onError(err: NodeJS.ErrnoException, timeout: boolean): void;
}

export interface UpstreamExchange {
  /** the client went away: the connection is closed (its state is unknown) */
  abort(): void;
  pause(): void;
  resume(): void;
}

export interface UpstreamPoolOptions {
  host: string;
  port: number;
  /** connections at most; further exchanges wait for one */
  maxSockets: number;
  /**
   * an idle connection is closed after this long (or after its last exchange's timeout, if
   * that is shorter)
   */
  idleSocketMs: number;
}

const CRLF = Buffer.from('\r\n');
/**
 * What every connection reads into (net's `onread`): node then neither allocates a buffer per
 * read nor runs the stream machinery. Reads are handled one at a time, synchronously, so one
 * buffer serves them all; whatever outlives a read (a partial head, a body chunk) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const HEAD_END = Buffer.from('\r\n\r\n');
/** A response head larger than this is refused (node's own default limit is 16 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
/**
 * The header lines of a response head, from the end of its status line (set `lastIndex`) to
 * its end: each a token name, a colon and a value without control characters but tab. What
 * the proxy passes on must be what node (or any client) would accept.
 */
const HEADER_LINES = /(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*)*$/y;
/** a header value or reason phrase: no control characters but tab */
const FIELD_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;

class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

interface Pending {
  head: string;
  method: string;
  handler: UpstreamHandler;
  timeoutMs: number;
  retryable: boolean;
  exchange: Exchange;
}

type BodyMode = 'none' | 'length' | 'chunked' | 'close';

/**
 * A keep-alive connection pool to one target with a minimal HTTP/1.1 client, for requests
 * without a body (most requests): the request head is written as one string, the response
 * head is parsed from the socket's bytes and the body passed on as it arrives (by length,
 * chunked or until close). node's `http.request` with an Agent costs about as much CPU per
 * request as the whole rest of the proxy (request and response objects, streams, agent
 * bookkeeping); this does the same job for what a proxy needs in a fraction of that.
 * Requests with a body still go through `http.request`.
 */
export class UpstreamPool {
  /** idle connections, the longest idle first */
  private readonly idle: Connection[] = [];
  /** closes connections idle for idleSocketMs; runs while there are idle connections */
  private idleSweep?: NodeJS.Timeout;
  private readonly queue: Pending[] = [];
  private active = 0;
  private destroyed = false;

  constructor(private readonly options: UpstreamPoolOptions) {}

  get host(): string {
    return this.options.host;
  }

  /**
   * Sends `head` (the whole request head, `\r\n\r\n` included) and hands the response to
   * `handler`. `retryable`: a request that may be sent again on a new connection when a
   * reused one turns out to have been closed by the target.
   */
  request(
    head: string,
    method: string,
    handler: UpstreamHandler,
    timeoutMs: number,
    retryable: boolean,
  ): UpstreamExchange {
    const exchange = new Exchange();
    const pending: Pending = { head, method, handler, timeoutMs, retryable, exchange };
    if (this.destroyed) {
      process.nextTick(() =>
        handler.onError(new UpstreamError('target removed', 'ECONNABORTED'), false),
      );
      return exchange;
    }
    this.dispatch(pending);
    return exchange;
  }

  /**
   * The target left: idle connections are closed and queued exchanges fail; those in flight
   * finish, and their connections close then.
   */
  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.idleSweep);
    for (const c of this.idle.splice(0)) c.socket.destroy();
    for (const p of this.queue.splice(0)) {
      p.handler.onError(new UpstreamError('target removed', 'ECONNABORTED'), false);
    }
  }

  private dispatch(pending: Pending): void {
    while (this.idle.length > 0) {
      const c = this.idle.pop()!; // most recently used first: the others may time out
      if (c.usable()) {
        this.active++;
        c.start(pending, true);
        return;
      }
    }
    if (this.active >= this.options.maxSockets) {
      this.queue.push(pending);
      return;
    }
    this.active++;
    new Connection(this, this.options).start(pending, false);
  }

  /** The next queued exchange whose client is still there. */
  private nextQueued(): Pending | undefined {
    for (;;) {
      const next = this.queue.shift();
      if (!next || !next.exchange.aborted) return next;
    }
  }

  /** A connection finished an exchange: reuse it for a queued one, or keep it idle. */
  released(c: Connection, reusable: boolean): void {
    this.active--;
    if (reusable && !this.destroyed) {
      const next = this.nextQueued();
      if (next) {
        this.active++;
        c.start(next, true);
        return;
      }
      c.idle();
      this.idle.push(c);
      this.idleSweep ??= setTimeout(() => this.sweepIdle(), this.options.idleSocketMs).unref();
      return;
    }
    c.socket.destroy();
    const next = this.nextQueued();
    if (next) this.dispatch(next);
  }

  /**
   * Closes the connections idle for idleSocketMs, and comes back when the next one will be.
   * (One timer per pool rather than one per connection, which would be set and cleared on
   * every exchange.)
   */
  private sweepIdle(): void {
    this.idleSweep = undefined;
    const now = performance.now();
    while (this.idle.length > 0 && now - this.idle[0].idleSince >= this.options.idleSocketMs) {
      this.idle.shift()!.close();
    }
    if (this.idle.length > 0) {
      const wait = this.idle[0].idleSince + this.options.idleSocketMs - now;
      this.idleSweep = setTimeout(() => this.sweepIdle(), Math.max(1, wait)).unref();
    }
  }

  /** An idle connection closed. */
  closedIdle(c: Connection): void {
    const at = this.idle.indexOf(c);
    if (at >= 0) this.idle.splice(at, 1);
  }

  /** Sends a request again on a new connection (its reused one was closed under it). */
  retry(pending: Pending): void {
    if (this.destroyed) {
      pending.handler.onError(new UpstreamError('target removed', 'ECONNABORTED'), false);
      return;
    }
    this.active++;
    new Connection(this, this.options).start({ ...pending, retryable: false }, false);
  }
}

class Exchange implements UpstreamExchange {
  connection?: Connection;
  aborted = false;
  paused = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.connection?.abort(this);
  }

  pause(): void {
    this.paused = true;
    this.connection?.flow(this, false);
  }

  resume(): void {
    this.paused = false;
    this.connection?.flow(this, true);
  }
}

/** One connection to the target; carries one exchange at a time. */
class Connection {
  readonly socket: Socket;
  private connected = false;
  private current?: Pending;
  private reused = false;
  /** bytes of the response head received so far (until it is complete) */
  private headBuffer?: Buffer;
  private gotBytes = false;
  private mode: BodyMode = 'none';
  private remaining = 0;
  private keepAlive = false;
  private chunkState: 'size' | 'data' | 'data-crlf' | 'trailers' = 'size';
  private lineBuffer?: Buffer;
  private closed = false;
  /** when the connection last went idle (performance.now()) */
  idleSince = 0;
  /** the socket's timeout: the timeout of the exchange it carries or last carried */
  private timeoutMs = 0;
  /** reading is paused (an exchange's backpressure) */
  private paused = false;

  constructor(
    private readonly pool: UpstreamPool,
    options: UpstreamPoolOptions,
  ) {
    this.socket = connect({
      host: options.host,
      port: options.port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes: number) => {
          this.onData(READ_BUFFER.subarray(0, bytes));
          return true; // reading pauses through the exchange's pause(), not here
        },
      },
    });
    this.socket.on('connect', () => (this.connected = true));
    this.socket.on('end', () => this.onClose(undefined));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onClose(err));
    this.socket.on('close', () => this.onClose(undefined));
    this.socket.on('timeout', () => this.onTimeout());
  }

  /** Whether an idle connection may carry a new exchange. */
  usable(): boolean {
    return !this.closed && !this.socket.destroyed && this.socket.writable;
  }

  start(pending: Pending, reused: boolean): void {
    this.current = pending;
    this.reused = reused;
    this.headBuffer = undefined;
    this.gotBytes = false;
    this.mode = 'none';
    pending.exchange.connection = this;
    this.setReading(!pending.exchange.paused);
    // Set only when it changes (a timer made on every exchange costs); it also bounds how
    // long the connection stays idle.
    if (pending.timeoutMs !== this.timeoutMs) {
      this.timeoutMs = pending.timeoutMs;
      this.socket.setTimeout(pending.timeoutMs);
    }
    this.socket.write(pending.head, 'latin1');
  }

  /** Pauses or resumes reading for an exchange, if the connection still carries it. */
  flow(exchange: Exchange, on: boolean): void {
    if (this.current?.exchange !== exchange) return;
    this.setReading(on);
  }

  private setReading(on: boolean): void {
    if (on === !this.paused) return;
    this.paused = !on;
    if (on) this.socket.resume();
    else this.socket.pause();
  }

  idle(): void {
    this.current = undefined;
    this.idleSince = performance.now();
    this.setReading(true); // bytes on an idle connection are noticed (and close it)
  }

  /** Closes an idle connection (the pool has let go of it). */
  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  abort(exchange: Exchange): void {
    if (this.current?.exchange !== exchange) return;
    this.current = undefined;
    this.closed = true;
    this.socket.destroy();
    this.pool.released(this, false);
  }

  private onTimeout(): void {
    const pending = this.current;
    this.closed = true;
    this.socket.destroy();
    if (!pending) {
      this.pool.closedIdle(this);
      return;
    }
    this.current = undefined;
    this.pool.released(this, false);
    pending.handler.onError(new UpstreamError('target timed out', 'ETIMEDOUT'), true);
  }

  private onClose(err: NodeJS.ErrnoException | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const pending = this.current;
    if (!pending) {
      this.pool.closedIdle(this);
      return;
    }
    this.current = undefined;
    if (this.mode === 'close' && this.headBuffer === undefined && this.gotBytes && !err) {
      // A body delimited by the end of the connection: this is its end.
      this.pool.released(this, false);
      pending.handler.onEnd();
      return;
    }
    this.pool.released(this, false);
    if (!this.gotBytes && this.reused && pending.retryable && this.connected) {
      // The target closed an idle pooled connection just as it was reused.
      this.pool.retry(pending);
      return;
    }
    const failure: NodeJS.ErrnoException = err ?? new UpstreamError('socket hang up', 'ECONNRESET');
    pending.handler.onError(failure, false);
  }

  private fail(message: string): void {
    const pending = this.current;
    this.current = undefined;
    this.closed = true;
    this.socket.destroy();
    this.pool.released(this, false);
    pending?.handler.onError(new UpstreamError(message, 'HPE_INVALID'), false);
  }

  private onData(chunk: Buffer): void {
    try {
      this.consume(chunk);
    } catch (err) {
      // A handler that threw must not take the process down: the exchange fails.
      const pending = this.current;
      this.current = undefined;
      this.closed = true;
      this.socket.destroy();
      if (pending) {
        this.pool.released(this, false);
        pending.handler.onError(err as NodeJS.ErrnoException, false);
      }
    }
  }

  private consume(chunk: Buffer): void {
    const pending = this.current;
    if (!pending) {
      // Bytes on an idle connection: it cannot be trusted any more.
      this.closed = true;
      this.socket.destroy();
      this.pool.closedIdle(this);
      return;
    }
    this.gotBytes = true;
    let data = chunk;
    while (data.length > 0 && this.current === pending) {
      if (this.mode === 'none' || this.headBuffer !== undefined) {
        const rest = this.readHead(pending, data);
        if (rest === undefined) return; // head incomplete (or failed)
        data = rest;
        if (this.current !== pending) return;
        if (this.mode === 'none') {
          this.finish(pending);
          return;
        }
        continue;
      }
      data = this.readBody(pending, data);
    }
  }

  /** Consumes a response head; returns the bytes after it, or undefined if more are needed. */
  private readHead(pending: Pending, data: Buffer): Buffer | undefined {
    const buffer = this.headBuffer ? Buffer.concat([this.headBuffer, data]) : data;
    const end = buffer.indexOf(HEAD_END);
    if (end < 0) {
      if (buffer.length > MAX_HEAD_BYTES) this.fail('response head too large');
      else this.headBuffer = Buffer.from(buffer);
      return undefined;
    }
    this.headBuffer = undefined;
    const text = buffer.toString('latin1', 0, end);
    const rest = buffer.subarray(end + 4);
    const lines = text.split('\r\n');
    const statusLine = lines[0];
    // HTTP/1.x SSS reason
    if (!statusLine.startsWith('HTTP/1.') || statusLine.length < 12) {
      this.fail('invalid response status line');
      return undefined;
    }
    const http10 = statusLine[7] === '0';
    const status = Number(statusLine.slice(9, 12));
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      this.fail('invalid response status');
      return undefined;
    }
    const statusMessage = statusLine.length > 13 ? statusLine.slice(13) : '';
    if (statusLine.length > 12 && statusLine[12] !== ' ') {
      this.fail('invalid response status line');
      return undefined;
    }
    if (!FIELD_TEXT.test(statusMessage)) {
      this.fail('invalid response reason phrase');
      return undefined;
    }
    // one pass over all header lines (a regular expression each would cost more)
    HEADER_LINES.lastIndex = statusLine.length;
    if (!HEADER_LINES.test(text)) {
      this.fail('invalid response header');
      return undefined;
    }
    const raw: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let transferEncoding = false;
    let connectionClose = http10;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      const name = line.slice(0, colon);
      const value = trimWhitespace(line, colon + 1);
      switch (name.length) {
        case 14:
          if (name.toLowerCase() === 'content-length') {
            const n = Number(value);
            if (!/^\d+$/.test(value) || (contentLength >= 0 && contentLength !== n)) {
              this.fail('invalid response content-length');
              return undefined;
            }
            contentLength = n;
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            transferEncoding = true;
            chunked = /(^|,)\s*chunked\s*$/i.test(value);
          }
          break;
        case 10:
          if (name.toLowerCase() === 'connection') {
            const v = value.toLowerCase();
            if (v.includes('close')) connectionClose = true;
            else if (http10 && v.includes('keep-alive')) connectionClose = false;
          }
          break;
      }
      raw.push(name, value);
    }
    if (transferEncoding && contentLength >= 0) {
      // which one frames the body? Passing either on could desynchronise whoever reads next
      this.fail('response with both Transfer-Encoding and Content-Length');
      return undefined;
    }
    if (status < 200) {
      // 1xx (100 Continue, 103 Early Hints): informational; the real head follows.
      if (status === 101) {
        this.fail('unexpected protocol switch');
        return undefined;
      }
      this.mode = 'none';
      return rest.length > 0 ? this.readHead(pending, rest) : undefined;
    }
    this.keepAlive = !connectionClose;
    if (pending.method === 'HEAD' || status === 204 || status === 304) {
      this.mode = 'none';
    } else if (chunked) {
      this.mode = 'chunked';
      this.chunkState = 'size';
      this.lineBuffer = undefined;
    } else if (contentLength >= 0) {
      this.mode = contentLength === 0 ? 'none' : 'length';
      this.remaining = contentLength;
    } else {
      this.mode = 'close';
      this.keepAlive = false;
    }
    pending.handler.onHead(status, statusMessage, raw, chunked ? -1 : contentLength);
    return rest;
  }

  /** Consumes body bytes; returns what is left over (nothing, in a well-behaved exchange). */
  private readBody(pending: Pending, data: Buffer): Buffer {
    switch (this.mode) {
      case 'length': {
        const take = Math.min(this.remaining, data.length);
        this.remaining -= take;
        pending.handler.onData(Buffer.from(data.subarray(0, take)));
        if (this.remaining === 0) this.finish(pending);
        return data.subarray(take);
      }
      case 'close':
        pending.handler.onData(Buffer.from(data));
        return data.subarray(data.length);
      case 'chunked':
        return this.readChunked(pending, data);
      default:
        return data.subarray(data.length);
    }
  }

  private readChunked(pending: Pending, input: Buffer): Buffer {
    let data = input;
    let at = 0;
    while (at < data.length && this.current === pending) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.remaining, data.length - at);
        pending.handler.onData(Buffer.from(data.subarray(at, at + take)));
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          this.chunkState = 'data-crlf';
          this.remaining = 2;
        }
        continue;
      }
      if (this.chunkState === 'data-crlf') {
        const take = Math.min(this.remaining, data.length - at);
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) this.chunkState = 'size';
        continue;
      }
      // a line: the chunk size, or a trailer (ended by an empty line); its CRLF may have
      // been split across reads, so a partial line is joined with what follows first
      if (this.lineBuffer) {
        data = Buffer.concat([this.lineBuffer, data.subarray(at)]);
        at = 0;
        this.lineBuffer = undefined;
      }
      const eol = data.indexOf(CRLF, at);
      if (eol < 0) {
        this.lineBuffer = Buffer.from(data.subarray(at));
        if (this.lineBuffer.length > MAX_HEAD_BYTES) this.fail('chunk line too long');
        return data.subarray(data.length);
      }
      const line = data.toString('latin1', at, eol);
      at = eol + 2;
      if (this.chunkState === 'trailers') {
        if (line === '') {
          this.finish(pending);
          return data.subarray(at);
        }
        continue;
      }
      const semi = line.indexOf(';');
      const sizeText = (semi < 0 ? line : line.slice(0, semi)).trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) {
        this.fail('invalid chunk size');
        return data.subarray(data.length);
      }
      const size = parseInt(sizeText, 16);
      if (size === 0) this.chunkState = 'trailers';
      else {
        this.chunkState = 'data';
        this.remaining = size;
      }
    }
    return data.subarray(at);
  }

  private finish(pending: Pending): void {
    this.current = undefined;
    this.pool.released(this, this.keepAlive && this.usable());
    pending.handler.onEnd();
  }
}

/** `line` from `start`, without the spaces and tabs around it (a header value's OWS). */
function trimWhitespace(line: string, start: number): string {
  let from = start;
  let to = line.length;
  while (from < to && isSpaceOrTab(line.charCodeAt(from))) from++;
  while (to > from && isSpaceOrTab(line.charCodeAt(to - 1))) to--;
  return line.slice(from, to);
}

function isSpaceOrTab(code: number): boolean {
  return code === 32 || code === 9;
}
