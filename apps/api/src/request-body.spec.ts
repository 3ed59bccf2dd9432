import { PassThrough, Readable } from 'node:stream';
import { readBody } from './request-body';

const tooLarge = () => new Error('too large');

function headerSink() {
  const headers: Record<string, string> = {};
  return { headers, res: { setHeader: (k: string, v: string) => (headers[k] = v) } as never };
}

describe('readBody', () => {
  it('gives the whole body of many chunks, and an empty one', async () => {
    const req = Readable.from([Buffer.from('{"a":'), Buffer.from('1'), Buffer.from('}')]);
    expect((await readBody(req, 100, tooLarge)).toString()).toBe('{"a":1}');
    expect((await readBody(Readable.from([]), 100, tooLarge)).length).toBe(0);
  });

  it('past the limit rejects with the given error and closes the connection', async () => {
    const { headers, res } = headerSink();
    const req = Readable.from([Buffer.alloc(60), Buffer.alloc(60)]);
    await expect(readBody(req, 100, tooLarge, res)).rejects.toThrow('too large');
    expect(headers.connection).toBe('close');
    // Exactly the limit is still a body.
    expect((await readBody(Readable.from([Buffer.alloc(100)]), 100, tooLarge)).length).toBe(100);
  });

  it('rejects when the request closes before its body ends', async () => {
    const req = new PassThrough();
    const read = readBody(req, 100, tooLarge);
    req.write('{"partial":');
    req.destroy();
    await expect(read).rejects.toThrow('closed before its body was read');
  });
});
