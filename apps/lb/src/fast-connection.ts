import { METHODS, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The lb's fast path for client connections. Most requests a load balancer sees are plain
 * HTTP/1.1 requests without a body; for those, node's HTTP server (IncomingMessage,
 * ServerResponse, their streams and events) costs more CPU than everything else the lb does
 * per request. A FastConnection reads such requests straight off the socket and writes the
 * answers as one buffer each.
 *
 * It takes only what it can judge simply and strictly: a request line `METHOD /target
 * HTTP/1.1` with a method node knows, header lines `name: value` of token names and values
 * without control characters, a Host header, and no Content-Length, Transfer-Encoding,
 * Upgrade or Expect. Anything else — a body, an upgrade, HTTP/1.0, a malformed or very
 * large head — and the connection is handed to node's HTTP server as it stands (the bytes
 * not yet answered put back in front), which serves it from then on, malformed input
 * included. So node's parser stays the judge of everything unusual.
 */

/** What the proxy does with a request the fast path parsed. */
export interface FastHandler {
  /** answer `request` on `response` */
  request(request: FastRequest, response: FastResponse): void;
  /** the connection needs node's HTTP server from here on (its unread bytes are put back) */
  handOff(socket: Socket): void;
}

/** A request head as the fast path parsed it. */
export interface FastRequest {
  method: string;
  /** the request target as sent (origin form: a path and an optional query) */
  url: string;
  /** header names and values in order, as node's `rawHeaders` */
  rawHeaders: string[];
  sourceIp: string;
}

/** A request head larger than this goes to node (which answers 431). */
const MAX_HEAD_BYTES = 16 * 1024;
/** Bytes of pipelined requests read ahead while a response is in flight, before reading pauses. */
const MAX_READ_AHEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/** node's answer to a request cut short by the end of the connection */
const BAD_REQUEST_CLOSE = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
const KNOWN_METHODS = new Set(METHODS);
/** `METHOD /target HTTP/1.1`: an origin-form target of visible ASCII */
const REQUEST_LINE = /^([A-Z]+) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/** `name: value`: a token name, optional whitespace, a value without control characters */
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[\t ]*([\t\x20-\x7e\x80-\xff]*?)[\t ]*$/;

/** parseRequestHead's answers besides a request */
export const INCOMPLETE = 0;
export const UNUSUAL = 1;

export interface ParsedHead {
  method: string;
  url: string;
  rawHeaders: string[];
  /** bytes of `buffer` the head took, its blank line included */
  length: number;
  /** the client asked to close the connection after this request */
  close: boolean;
}

/**
 * Parses the request head at the start of `buffer`, if it is one the fast path serves;
 * INCOMPLETE if more bytes are needed to tell, UNUSUAL if node's server must judge it.
 * `checked`: the first bytes of `buffer` that an earlier call found INCOMPLETE (a head that
 * arrives in pieces is not searched from its start each time).
 */
export function parseRequestHead(
  buffer: Buffer,
  checked = 0,
): ParsedHead | typeof INCOMPLETE | typeof UNUSUAL {
  const end = buffer.indexOf(HEAD_END, Math.max(0, checked - 3));
  if (end < 0) {
    // a bare LF where a CRLF belongs would leave us waiting: node judges that
    return buffer.length > MAX_HEAD_BYTES || hasBareLf(buffer, checked) ? UNUSUAL : INCOMPLETE;
  }
  if (end > MAX_HEAD_BYTES) return UNUSUAL;
  const lines = buffer.toString('latin1', 0, end).split('\r\n');
  const requestLine = REQUEST_LINE.exec(lines[0]);
  // CONNECT asks for a tunnel, which node's server (without a 'connect' listener) refuses
  if (!requestLine || !KNOWN_METHODS.has(requestLine[1]) || requestLine[1] === 'CONNECT') {
    return UNUSUAL;
  }
  const rawHeaders: string[] = [];
  let hasHost = false;
  let close = false;
  for (let i = 1; i < lines.length; i++) {
    const header = HEADER_LINE.exec(lines[i]);
    if (!header) return UNUSUAL;
    const name = header[1];
    const value = header[2];
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hasHost = true;
        break;
      case 6:
        if (name.toLowerCase() === 'expect') return UNUSUAL;
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') return UNUSUAL;
        break;
      case 10:
        if (name.toLowerCase() === 'connection' && hasToken(value, 'close')) close = true;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') return UNUSUAL;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') return UNUSUAL;
        break;
    }
    rawHeaders.push(name, value);
  }
  // HTTP/1.1 without a Host is answered 400 by node
  if (!hasHost) return UNUSUAL;
  return { method: requestLine[1], url: requestLine[2], rawHeaders, length: end + 4, close };
}

function hasBareLf(buffer: Buffer, from: number): boolean {
  for (let at = buffer.indexOf(10, from); at >= 0; at = buffer.indexOf(10, at + 1)) {
    if (at === 0 || buffer[at - 1] !== 13) return true;
  }
  return false;
}

/** Whether a comma-separated header value holds `token` (case-insensitively). */
function hasToken(value: string, token: string): boolean {
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** Request headers whose duplicates node's `req.headers` drops (keeping the first). */
const SINGLE_HEADERS = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** `req.headers` built from raw pairs the way node builds it, for rules on http-header. */
export function headersFromRaw(raw: string[]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    const held = headers[name];
    if (held === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(held)) held.push(value);
    else if (!SINGLE_HEADERS.has(name)) {
      headers[name] = `${held}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
  }
  return headers;
}

/**
 * One client connection on the fast path: reads request heads, hands each to the handler
 * and writes its response, one exchange at a time (pipelined requests wait their turn).
 */
export class FastConnection {
  private buffered?: Buffer;
  private current?: FastResponse;
  /** the client sent its FIN: close once what it asked is answered */
  private ended = false;
  /** close after the response in flight (the client, or the listener closing, asked) */
  closing = false;
  /** node's HTTP server has the connection now */
  private handedOff = false;
  /** `next` is running: a response finished within it lets its loop go on (no recursion) */
  private serving = false;
  /** bytes at the start of `buffered` already found to hold no complete head */
  private checked = 0;
  /** the client is not reading its responses: no next request until it does */
  private waitingForDrain = false;
  /** `Connection` and `Keep-Alive` for a response that keeps the connection open */
  keepAliveHeaders: string;
  private readonly onDataBound = (chunk: Buffer) => this.onData(chunk);
  private readonly onEndBound = () => this.onEnd();
  private readonly onCloseBound = () => this.onClose();
  private readonly onErrorBound = () => this.socket.destroy();
  private readonly onTimeoutBound = () => this.onTimeout();
  private readonly onDrainBound = () => {
    this.waitingForDrain = false;
    this.next();
  };

  constructor(
    readonly socket: Socket,
    private readonly handler: FastHandler,
    idleTimeoutMs: number,
    private readonly onGone: (connection: FastConnection) => void,
  ) {
    this.keepAliveHeaders = keepAliveHeaders(idleTimeoutMs);
    socket.setTimeout(idleTimeoutMs);
    socket.on('data', this.onDataBound);
    socket.on('end', this.onEndBound);
    socket.on('close', this.onCloseBound);
    socket.on('error', this.onErrorBound);
    socket.on('timeout', this.onTimeoutBound);
  }

  /** The listener's idle timeout changed. */
  setIdleTimeout(ms: number): void {
    this.keepAliveHeaders = keepAliveHeaders(ms);
    this.socket.setTimeout(ms);
  }

  /** Closes the connection after its response in flight, or now if there is none. */
  closeWhenIdle(): void {
    this.closing = true;
    if (!this.current) this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    if (this.current || this.waitingForDrain) {
      // pipelined requests wait their turn; reading stops once enough of them are waiting
      if (this.buffered.length > MAX_READ_AHEAD) this.socket.pause();
      return;
    }
    this.next();
  }

  /**
   * Idle for the idle timeout: closed, unless a request is in flight (the exchange with the
   * target has the same timeout and answers 504, or keeps the connection busy).
   */
  private onTimeout(): void {
    if (!this.current) this.socket.destroy();
  }

  private onEnd(): void {
    this.ended = true;
    if (!this.current && !this.waitingForDrain) this.next(); // which ends the connection
  }

  private onClose(): void {
    const current = this.current;
    this.current = undefined;
    this.socket.removeListener('drain', this.onDrainBound);
    current?.clientGone();
    this.onGone(this);
  }

  /**
   * Serves the buffered requests one after the other, for as long as each is answered at
   * once (a fixed response, a redirect) and the client keeps reading; stops at one that
   * waits for its target, an incomplete head, or one for node's server.
   */
  private next(): void {
    if (this.serving) return; // a response finished inside the loop below: it goes on
    this.serving = true;
    try {
      while (!this.current && !this.closing && !this.handedOff && !this.socket.destroyed) {
        const buffered = this.buffered;
        if (!buffered) break;
        if (this.socket.writableNeedDrain) {
          // Responses the client has not read yet fill its socket: read on once it has.
          this.waitingForDrain = true;
          this.socket.once('drain', this.onDrainBound);
          return;
        }
        if (this.socket.isPaused()) this.socket.resume();
        const head = parseRequestHead(buffered, this.checked);
        if (head === INCOMPLETE) {
          this.checked = buffered.length;
          break;
        }
        this.checked = 0;
        if (head === UNUSUAL) {
          // After the client's FIN node's server would drop the request too (it aborts
          // requests on a half-closed connection); its bytes cannot be put back after 'end'.
          if (this.ended) this.socket.end();
          else this.handOff();
          return;
        }
        this.buffered =
          head.length === buffered.length ? undefined : buffered.subarray(head.length);
        if (head.close) this.closing = true;
        const response = new FastResponse(this, head.method);
        this.current = response;
        this.handler.request(
          {
            method: head.method,
            url: head.url,
            rawHeaders: head.rawHeaders,
            sourceIp: this.socket.remoteAddress ?? '',
          },
          response,
        );
      }
    } finally {
      this.serving = false;
    }
    // The client has said all it will: a partial request left over is never finished, and
    // is answered 400 as node's server answers it.
    if (this.ended && !this.current && !this.handedOff) {
      if (this.buffered && !this.closing) this.socket.end(BAD_REQUEST_CLOSE, 'latin1');
      else this.socket.end();
    }
  }

  /** Its response is written whole: the next request, or the end of the connection. */
  finished(response: FastResponse): void {
    if (this.current !== response) return;
    this.current = undefined;
    if (this.closing) {
      this.socket.end();
      return;
    }
    this.next();
  }

  private handOff(): void {
    this.handedOff = true;
    const socket = this.socket;
    socket.removeListener('data', this.onDataBound);
    socket.removeListener('end', this.onEndBound);
    socket.removeListener('close', this.onCloseBound);
    socket.removeListener('error', this.onErrorBound);
    socket.removeListener('timeout', this.onTimeoutBound);
    if (this.buffered) socket.unshift(this.buffered);
    this.buffered = undefined;
    this.onGone(this);
    this.handler.handOff(socket);
  }
}

/** What node's server says of a connection it keeps open: `Keep-Alive: timeout=` in seconds. */
function keepAliveHeaders(idleTimeoutMs: number): string {
  return `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(idleTimeoutMs / 1000)}\r\n`;
}

/** Statuses whose responses never have a body. */
function bodyless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || status < 200;
}

let cachedDate = '';
let cachedDateAt = 0;
/** The Date header's value, computed at most once a second. */
function httpDate(): string {
  const now = Date.now();
  if (now - cachedDateAt >= 1000) {
    cachedDateAt = now - (now % 1000);
    cachedDate = new Date(now).toUTCString();
  }
  return cachedDate;
}

/**
 * The response to one fast-path request. The head is held until the first body bytes or the
 * end, so that a small response leaves in one write.
 */
export class FastResponse {
  /** the status written, or 0 before the head */
  statusCode = 0;
  private head?: string;
  private chunked = false;
  private noBody = false;
  private done = false;
  private closeListener?: (status: number, finished: boolean) => void;

  constructor(
    private readonly connection: FastConnection,
    private readonly method: string,
  ) {}

  get headersSent(): boolean {
    return this.statusCode !== 0;
  }

  /**
   * `headers`: name/value pairs, hop-by-hop ones already left out; `contentLength`: the
   * body's length if `headers` give it, else -1 (the body is then sent chunked).
   */
  writeHead(status: number, message: string, headers: string[], contentLength: number): void {
    this.statusCode = status;
    this.noBody = bodyless(this.method, status);
    let head = `HTTP/1.1 ${status} ${message}\r\n`;
    let hasDate = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name.length === 4 && name.toLowerCase() === 'date') hasDate = true;
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    if (!hasDate) head += `Date: ${httpDate()}\r\n`;
    if (contentLength < 0 && !this.noBody) {
      this.chunked = true;
      head += 'Transfer-Encoding: chunked\r\n';
    }
    head += this.connection.closing ? 'Connection: close\r\n' : this.connection.keepAliveHeaders;
    this.head = `${head}\r\n`;
  }

  /** Writes body bytes; false when the client's socket is full (wait for `onceDrain`). */
  write(chunk: Buffer): boolean {
    if (this.done || this.noBody || chunk.length === 0) return true;
    const socket = this.connection.socket;
    const head = this.takeHead();
    if (this.chunked) {
      const frame = `${head}${chunk.length.toString(16)}\r\n`;
      socket.cork();
      socket.write(frame, 'latin1');
      socket.write(chunk);
      const ok = socket.write('\r\n', 'latin1');
      socket.uncork();
      return ok;
    }
    if (head === '') return socket.write(chunk);
    return socket.write(withHead(head, chunk));
  }

  onceDrain(fn: () => void): void {
    this.connection.socket.once('drain', fn);
  }

  /** Ends the response, with `body` as its last (or only) bytes. */
  end(body?: Buffer): void {
    if (this.done) return;
    const socket = this.connection.socket;
    const head = this.takeHead();
    if (this.noBody || !body || body.length === 0) {
      const tail = this.chunked ? `${head}0\r\n\r\n` : head;
      if (tail !== '') socket.write(tail, 'latin1');
    } else if (this.chunked) {
      socket.write(withHead(`${head}${body.length.toString(16)}\r\n`, body, '\r\n0\r\n\r\n'));
    } else {
      socket.write(head === '' ? body : withHead(head, body));
    }
    this.done = true;
    this.closeListener?.(this.statusCode, true);
    this.connection.finished(this);
  }

  /** Abandons the response: the connection is closed (the client sees it cut short). */
  destroy(): void {
    this.connection.socket.destroy();
  }

  /** `fn(status, finished)` once, when the response is written whole or the client has gone. */
  onClose(fn: (status: number, finished: boolean) => void): void {
    this.closeListener = fn;
  }

  clientGone(): void {
    if (this.done) return;
    this.done = true;
    this.closeListener?.(this.statusCode, false);
  }

  private takeHead(): string {
    const head = this.head;
    if (head === undefined) throw new Error('response body before its head');
    this.head = '';
    return head;
  }
}

/** `head`, `body` and `tail` in one buffer, for one write. */
function withHead(head: string, body: Buffer, tail = ''): Buffer {
  const out = Buffer.allocUnsafe(head.length + body.length + tail.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  if (tail !== '') out.write(tail, head.length + body.length, 'latin1');
  return out;
}
