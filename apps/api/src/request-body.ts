import type { Readable } from 'node:stream';
import type { Response } from 'express';

/**
 * A request's body, whole, for the ECS endpoint and the `/v1` routes alike. Past `limit` bytes
 * it stops reading, marks the answer `connection: close` (the rest of the body is never read,
 * so the connection cannot carry another request) and rejects with `tooLarge()`. A request
 * that closes before its body ends rejects too. Read with stream events: an async iterator over
 * the request (`for await`) cost more than the rest of reading it (2% of the api's CPU).
 * `res` defaults to Express's `req.res`.
 */
export function readBody(
  req: Readable & { res?: Pick<Response, 'setHeader'> },
  limit: number,
  tooLarge: () => Error,
  res: Pick<Response, 'setHeader'> | undefined = req.res,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        res?.setHeader('connection', 'close');
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    // The client went away before the end of its body: nothing waits for this answer.
    const onClose = () => onError(new Error('the request closed before its body was read'));
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
