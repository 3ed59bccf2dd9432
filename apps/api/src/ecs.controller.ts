import { Controller, Headers, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { EcsDispatcher } from './ecs-dispatcher';
import { EcsApiError } from './protocol/ecs-errors';
import { AMZ_JSON_1_1, parseBody, parseTarget } from './protocol/target';
import { Authenticator } from './auth/authenticator';
import { API_CONFIG, AUTHENTICATOR } from './tokens';
import type { ApiConfig } from './config';

/** The ECS JSON 1.1 protocol: every operation is `POST /` named by `X-Amz-Target`. */
@Controller()
export class EcsController {
  constructor(
    private readonly dispatcher: EcsDispatcher,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(AUTHENTICATOR) private readonly auth: Authenticator,
  ) {}

  @Post()
  @HttpCode(200)
  async handle(
    @Headers('x-amz-target') target: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string> {
    const body = await readBody(req, res, this.config.API_MAX_BODY_BYTES);
    // Who asks comes first: an unsigned or badly signed request learns nothing else.
    const queryAt = req.originalUrl.indexOf('?');
    res.locals.principal = await this.auth.ecs({
      method: req.method,
      path: req.path,
      query: queryAt < 0 ? '' : req.originalUrl.slice(queryAt + 1),
      headers: req.headers,
      body,
    });
    const operation = parseTarget(target);
    res.locals.operation = operation;
    const input = parseBody(body);
    const output = await this.dispatcher.dispatch(
      operation,
      input,
      res.locals.principal as string | undefined,
    );
    res.setHeader('content-type', AMZ_JSON_1_1);
    return JSON.stringify(output ?? {});
  }
}

/**
 * The request body, refused past `limit` bytes. Read with stream events: an async iterator
 * over the request (`for await`) cost more than the rest of reading it.
 */
function readBody(req: Request, res: Response, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        // The rest of the body is never read: the connection cannot carry another request.
        res.setHeader('connection', 'close');
        req.pause();
        reject(
          new EcsApiError('SerializationException', `The request body exceeds ${limit} bytes`, 413),
        );
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
