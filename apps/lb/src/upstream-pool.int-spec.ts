import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { UpstreamPool, type UpstreamHandler } from './upstream-pool';

jest.setTimeout(20_000);

/**
 * The lb's own HTTP/1.1 client against a raw TCP target that answers each request with what
 * the test says, byte for byte (split across writes where it matters).
 */

type Answer = (socket: Socket, request: string) => void;

interface RawTarget {
  port: number;
  server: Server;
  /** connections accepted so far */
  connections: number;
  answer: Answer;
  requests: string[];
}

async function startTarget(): Promise<RawTarget> {
  const target: RawTarget = {
    port: 0,
    server: undefined as unknown as Server,
    connections: 0,
    answer: (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    requests: [],
  };
  target.server = createServer((socket) => {
    target.connections++;
    let buffered = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const request = buffered.slice(0, end + 4);
        buffered = buffered.slice(end + 4);
        target.requests.push(request);
        target.answer(socket, request);
      }
    });
  });
  await new Promise<void>((resolve) => target.server.listen(0, '127.0.0.1', resolve));
  target.port = (target.server.address() as AddressInfo).port;
  return target;
}

interface Result {
  status?: number;
  message?: string;
  headers?: string[];
  length?: number;
  body: string;
  error?: { code?: string; timeout: boolean };
}

function send(
  pool: UpstreamPool,
  options: { method?: string; path?: string; timeoutMs?: number; retryable?: boolean } = {},
): Promise<Result> {
  const method = options.method ?? 'GET';
  const head = `${method} ${options.path ?? '/'} HTTP/1.1\r\nHost: t\r\n\r\n`;
  return new Promise((resolve) => {
    const result: Result = { body: '' };
    const handler: UpstreamHandler = {
      onHead: (status, message, headers, length) =>
        Object.assign(result, { status, message, headers, length }),
      onData: (chunk) => (result.body += chunk.toString('latin1')),
      onEnd: () => resolve(result),
      onError: (err, timeout) => resolve({ ...result, error: { code: err.code, timeout } }),
    };
    pool.request(head, method, handler, options.timeoutMs ?? 5000, options.retryable ?? true);
  });
}

describe('UpstreamPool (the lb’s HTTP/1.1 client for requests without a body)', () => {
  let target: RawTarget;
  let pool: UpstreamPool;

  beforeEach(async () => {
    target = await startTarget();
    pool = new UpstreamPool({
      host: '127.0.0.1',
      port: target.port,
      maxSockets: 2,
      idleSocketMs: 2000,
    });
  });

  afterEach(async () => {
    pool.destroy();
    await new Promise((resolve) => {
      target.server.close(resolve);
      target.server.unref();
    });
  });

  it('reads a body by Content-Length and reuses the connection', async () => {
    target.answer = (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length:\t 2 \t\r\nX-E:\r\n\r\nok');
    const first = await send(pool, { path: '/a' });
    expect(first).toMatchObject({ status: 200, message: 'OK', length: 2, body: 'ok' });
    // values lose the spaces and tabs around them (and only those)
    expect(first.headers).toEqual(['Content-Length', '2', 'X-E', '']);
    for (let i = 0; i < 3; i++) expect((await send(pool)).body).toBe('ok');
    expect(target.connections).toBe(1);
    expect(target.requests[0]).toBe('GET /a HTTP/1.1\r\nHost: t\r\n\r\n');
  });

  it('decodes a chunked body split anywhere, with extensions and trailers', async () => {
    target.answer = (s) => {
      const bytes =
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n' +
        '5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer-X: y\r\n\r\n';
      // one byte at a time: every state boundary is crossed between reads
      let i = 0;
      const next = () => {
        if (i < bytes.length) s.write(bytes[i++], () => setImmediate(next));
      };
      next();
    };
    const r = await send(pool);
    expect(r).toMatchObject({ status: 200, length: -1, body: 'hello world!' });
    expect(r.headers).toEqual(['Transfer-Encoding', 'chunked', 'X-A', '1']);
    // the connection is reusable after the last chunk
    target.answer = (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect((await send(pool)).status).toBe(200);
    expect(target.connections).toBe(1);
  });

  it('reads a body delimited by the end of the connection, and does not reuse it', async () => {
    target.answer = (s) => {
      s.write('HTTP/1.1 200 OK\r\nX: y\r\n\r\nuntil ');
      setTimeout(() => s.end('the end'), 20);
    };
    expect(await send(pool)).toMatchObject({ status: 200, length: -1, body: 'until the end' });
    target.answer = (s) => s.write('HTTP/1.1 204 No Content\r\n\r\n');
    expect(await send(pool)).toMatchObject({ status: 204, body: '' });
    expect(target.connections).toBe(2);
  });

  it('skips 1xx heads, and reads no body for HEAD, 204 and 304', async () => {
    target.answer = (s) =>
      s.write(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n' +
          'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc',
      );
    expect(await send(pool)).toMatchObject({ status: 200, body: 'abc' });
    target.answer = (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n');
    expect(await send(pool, { method: 'HEAD' })).toMatchObject({
      status: 200,
      length: 10,
      body: '',
    });
    target.answer = (s) => s.write('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n');
    expect(await send(pool)).toMatchObject({ status: 304, body: '' });
    expect(target.connections).toBe(1);
  });

  it('does not reuse a connection the target closes (Connection: close, HTTP/1.0)', async () => {
    target.answer = (s) =>
      s.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na');
    await send(pool);
    target.answer = (s) => s.write('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb');
    await send(pool);
    target.answer = (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc');
    expect((await send(pool)).body).toBe('c');
    expect(target.connections).toBe(3);
  });

  it('sends a request again when the target closed the reused connection under it', async () => {
    await send(pool);
    let first = true;
    target.answer = (s) => {
      if (first) {
        first = false;
        s.destroy(); // closed as the request arrived: nothing answered
        return;
      }
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nretry');
    };
    expect((await send(pool)).body).toBe('retry');
    // not retryable (or not reused): the error is the caller's
    first = true;
    const failed = await send(pool, { retryable: false });
    expect(failed.error).toEqual({ code: 'ECONNRESET', timeout: false });
  });

  it('reports a refused connection, a timeout and a malformed answer', async () => {
    const closed = new UpstreamPool({
      host: '127.0.0.1',
      port: 1,
      maxSockets: 1,
      idleSocketMs: 1000,
    });
    expect((await send(closed)).error).toEqual({ code: 'ECONNREFUSED', timeout: false });
    target.answer = () => undefined;
    expect((await send(pool, { timeoutMs: 200 })).error).toEqual({
      code: 'ETIMEDOUT',
      timeout: true,
    });
    target.answer = (s) => s.write('SSH-2.0-OpenSSH\r\n\r\n');
    expect((await send(pool)).error?.code).toBe('HPE_INVALID');
    target.answer = (s) =>
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok');
    expect((await send(pool)).error?.code).toBe('HPE_INVALID');
    // what the proxy would pass on must be valid: header names, values, the reason phrase
    for (const head of [
      'HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nNo-Colon\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\n: no name\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nX: a\u0000b\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 O\u0007K\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200OK\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    ]) {
      target.answer = (s) => s.write(head);
      expect((await send(pool)).error?.code).toBe('HPE_INVALID');
    }
  });

  it('closes connections idle for idleSocketMs, and only those', async () => {
    const short = new UpstreamPool({
      host: '127.0.0.1',
      port: target.port,
      maxSockets: 2,
      idleSocketMs: 1000,
    });
    try {
      const closed: number[] = [];
      target.server.on('connection', (s: Socket) => s.on('close', () => closed.push(Date.now())));
      // two connections; one stays busy with a request every 100 ms, the other goes idle
      await Promise.all([send(short), send(short)]);
      const idleFrom = Date.now();
      for (let i = 0; i < 15; i++) {
        await new Promise((r) => setTimeout(r, 100));
        expect((await send(short)).status).toBe(200);
      }
      expect(target.connections).toBe(2);
      expect(closed).toHaveLength(1);
      expect(closed[0] - idleFrom).toBeGreaterThanOrEqual(950);
      await new Promise((r) => setTimeout(r, 1500));
      expect(closed).toHaveLength(2);
      expect((await send(short)).status).toBe(200);
      expect(target.connections).toBe(3);
    } finally {
      short.destroy();
    }
  });

  it('keeps to maxSockets: further requests wait for a free connection', async () => {
    const held: Socket[] = [];
    target.answer = (s) => {
      held.push(s);
      if (held.length === 3) {
        for (const socket of held) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
      }
    };
    const all = [send(pool), send(pool), send(pool)];
    await new Promise((r) => setTimeout(r, 100));
    expect(target.connections).toBe(2);
    expect(held).toHaveLength(2);
    // release the two: the third goes out on one of them
    target.answer = (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny');
    for (const socket of held) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    const bodies = (await Promise.all(all)).map((r) => r.body).sort();
    expect(bodies).toEqual(['x', 'x', 'y']);
    expect(target.connections).toBe(2);
  });

  it('hands over body chunks that later reads leave intact (they are the handler’s to keep)', async () => {
    // Two exchanges on two connections, their answers sent in pieces, in turns: the pool reads
    // every connection into one buffer, so a chunk it did not copy would change under the
    // handler, showing the other exchange's bytes.
    const answers: Record<string, string[]> = {
      '/a': ['HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\naaaa', 'AAAA', 'aaaa'],
      '/b': [
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbb',
        'bb\r\n4\r\nBBBB\r\n',
        '0\r\n\r\n',
      ],
    };
    const waiting: { socket: Socket; pieces: string[] }[] = [];
    target.answer = (socket, request) => {
      waiting.push({ socket, pieces: [...answers[request.split(' ')[1]]] });
      if (waiting.length < 2) return;
      const turn = () => {
        for (const w of waiting) {
          const piece = w.pieces.shift();
          if (piece !== undefined) w.socket.write(piece);
        }
        if (waiting.some((w) => w.pieces.length > 0)) setTimeout(turn, 20);
      };
      turn();
    };
    const keep = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        pool.request(
          `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`,
          'GET',
          {
            onHead: () => undefined,
            onData: (chunk) => chunks.push(chunk),
            onEnd: () => resolve(Buffer.concat(chunks).toString('latin1')),
            onError: (err) => reject(err),
          },
          5000,
          true,
        );
      });
    await expect(Promise.all([keep('/a'), keep('/b')])).resolves.toEqual([
      'aaaaAAAAaaaa',
      'bbbbBBBB',
    ]);
    expect(target.connections).toBe(2);
  });

  it('pauses and resumes a large body (backpressure) and delivers it whole', async () => {
    const size = 4 * 1024 * 1024;
    target.answer = (s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      s.write(Buffer.alloc(size, 'z'));
    };
    let received = 0;
    let pauses = 0;
    await new Promise<void>((resolve, reject) => {
      const exchange = pool.request(
        'GET /big HTTP/1.1\r\nHost: t\r\n\r\n',
        'GET',
        {
          onHead: () => undefined,
          onData: (chunk) => {
            received += chunk.length;
            if (pauses < 3) {
              pauses++;
              exchange.pause();
              setTimeout(() => exchange.resume(), 20);
            }
          },
          onEnd: () => resolve(),
          onError: (err) => reject(err),
        },
        5000,
        true,
      );
    });
    expect(received).toBe(size);
    expect(pauses).toBe(3);
  });
});
