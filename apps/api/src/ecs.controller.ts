import { Controller, Headers, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { EcsDispatcher } from './ecs-dispatcher';
import { EcsApiError } from './protocol/ecs-errors';
import { AMZ_JSON_1_1, parseBody, parseTarget } from './protocol/target';
import { Authenticator } from './auth/authenticator';
import { readBody } from './request-body';
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

  /**
   * Answers by itself (`@Res()` without passthrough): the answer is JSON text already, and
   * Express's `send` (content type sniffing, ETag and freshness checks, a Buffer copy) cost the
   * api several percent of its CPU under RunTask load. Errors are thrown, and answered by
   * EcsExceptionFilter as before.
   */
  @Post()
  async handle(
    @Headers('x-amz-target') target: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const limit = this.config.API_MAX_BODY_BYTES;
    const body = await readBody(
      req,
      limit,
      () =>
        new EcsApiError('SerializationException', `The request body exceeds ${limit} bytes`, 413),
      res,
    );
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
    const answer = JSON.stringify(output ?? {});
    res.writeHead(200, {
      'content-type': AMZ_JSON_1_1,
      'content-length': Buffer.byteLength(answer),
    });
    res.end(answer);
  }
}
