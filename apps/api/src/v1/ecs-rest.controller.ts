import {
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Put,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import type { ApiConfig } from '../config';
import { EcsDispatcher } from '../ecs-dispatcher';
import { OPERATIONS } from '../operations';
import { parseBody } from '../protocol/target';
import { API_CONFIG } from '../tokens';
import {
  ECS_ROUTES,
  EcsRoute,
  EcsRouteMethod,
  ecsAnswer,
  ecsInput,
  expressPath,
  handlerNameOf,
  toV1Error,
} from './ecs-routes';
import { readV1Body, V1ExceptionFilter } from './v1-error';

/**
 * The ECS operations as REST routes under `/v1` (the table in ecs-routes.ts), and
 * `POST /v1/ecs/{operation}` for any of them with its ECS JSON body. Every request runs
 * through the EcsDispatcher: the same model check and handler as the ECS endpoint.
 */
@Controller('v1')
@UseFilters(V1ExceptionFilter)
export class EcsRestController {
  constructor(
    private readonly dispatcher: EcsDispatcher,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Post('ecs/:operation')
  @HttpCode(200)
  async invokeOperation(
    @Param('operation') operation: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    // The metrics label: only names the api serves, not whatever the path says.
    res.locals.operation = Object.hasOwn(OPERATIONS, operation) ? operation : 'UnknownOperation';
    const input = await this.body(req);
    return this.run(operation, input, res);
  }

  /** One route of the table: its input from path, query and body, its answer shaped. */
  async serve(route: EcsRoute, req: Request, res: Response): Promise<unknown> {
    res.locals.operation = route.operation;
    const params = req.params as Record<string, string>;
    const input = ecsInput(
      route,
      params,
      req.query as Record<string, unknown>,
      await this.body(req),
    );
    return ecsAnswer(route, await this.run(route.operation, input, res, route), params);
  }

  /** Runs the operation; `route` (absent for POST /v1/ecs/{operation}) shapes its errors. */
  private async run(
    operation: string,
    input: Record<string, unknown>,
    res: Response,
    route?: EcsRoute,
  ) {
    try {
      return (
        (await this.dispatcher.dispatch(
          operation,
          input,
          res.locals.principal as string | undefined,
        )) ?? {}
      );
    } catch (err) {
      throw toV1Error(err, route);
    }
  }

  /** The JSON object body, `{}` when there is none; the ECS endpoint's limits apply. */
  private async body(req: Request): Promise<Record<string, unknown>> {
    const bytes = await readV1Body(req, this.config.API_MAX_BODY_BYTES);
    try {
      return parseBody(bytes);
    } catch (err) {
      throw toV1Error(err);
    }
  }
}

const ROUTE_DECORATORS: Record<EcsRouteMethod, (path: string) => MethodDecorator> = {
  get: Get,
  post: Post,
  put: Put,
  patch: Patch,
  delete: Delete,
};

// One decorated method per route of the table, as if each were written out by hand, so Nest
// (and openapi.spec.ts, which reads the same metadata) sees ordinary routes.
for (const route of ECS_ROUTES) {
  const proto = EcsRestController.prototype as unknown as Record<string, unknown>;
  const name = handlerNameOf(route);
  Object.defineProperty(proto, name, {
    value: function (this: EcsRestController, req: Request, res: Response) {
      return this.serve(route, req, res);
    },
    writable: true,
    configurable: true,
  });
  const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
  ROUTE_DECORATORS[route.method](expressPath(route.path).slice('/v1/'.length))(
    proto,
    name,
    descriptor,
  );
  HttpCode(route.status ?? 200)(proto, name, descriptor);
  Req()(proto, name, 0);
  Res({ passthrough: true })(proto, name, 1);
}
