import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, NestExpressApplication } from '@nestjs/platform-express';
import { OpsServer, PinoNestLogger } from '@wharf/observability';
import { createStateClient, type schedulerV1, type stateV1 } from '@wharf/proto';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { firstValueFrom, timeout } from 'rxjs';
import type { ApiConfig } from './config';
import { EcsDispatcher } from './ecs-dispatcher';
import { EcsExceptionFilter } from './ecs-exception.filter';
import { EcsApiError } from './protocol/ecs-errors';
import { EcsController } from './ecs.controller';
import { createSchedulerPool, SCHEDULER_CLIENT } from './scheduler-pool';
import { Authenticator } from './auth/authenticator';
import { API_CONFIG, AUTHENTICATOR } from './tokens';
import { EcsRestModule } from './v1/ecs-rest.module';
import { LbApiModule } from './v1/lb.module';
import { LogsController } from './v1/logs.controller';
import { OpenApiController } from './v1/openapi.controller';
import { PlacementController } from './v1/placement.controller';
import { UtilisationController } from './v1/utilisation.controller';

@Module({})
class ApiModule {
  static create(
    config: ApiConfig,
    dispatcher: EcsDispatcher,
    scheduler: schedulerV1.SchedulerServiceClient,
    state: stateV1.StateServiceClient,
    logger: Logger,
    auth: Authenticator,
  ): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        LbApiModule.create({ config, state, logger }),
        EcsRestModule.create({ config, dispatcher, logger }),
      ],
      controllers: [
        EcsController,
        LogsController,
        UtilisationController,
        PlacementController,
        OpenApiController,
      ],
      providers: [
        { provide: API_CONFIG, useValue: config },
        { provide: EcsDispatcher, useValue: dispatcher },
        { provide: SCHEDULER_CLIENT, useValue: scheduler },
        { provide: AUTHENTICATOR, useValue: auth },
      ],
    };
  }
}

export interface RunningApi {
  stop(): Promise<void>;
  /** http://host:port of the ECS endpoint */
  url: string;
  port: number;
}

export async function startApi(config: ApiConfig, logger: Logger): Promise<RunningApi> {
  const state = createStateClient(config.STATE_URL);
  const scheduler = createSchedulerPool(config.SCHEDULER_URL);
  const dispatcher = new EcsDispatcher({
    state: state.client,
    scheduler: scheduler.client,
    arnContext: { region: config.WHARF_REGION, accountId: config.WHARF_ACCOUNT_ID },
  });

  const auth = new Authenticator(
    state.client,
    { mode: config.API_AUTH, region: config.WHARF_REGION, cacheMs: config.API_AUTH_CACHE_MS },
    logger,
  );
  if (auth.mode === 'dev') {
    logger.warn(
      'DEVELOPMENT MODE (API_AUTH=dev): requests are not authenticated, any access key is accepted',
    );
  }

  const ops = new OpsServer('api', logger);
  ops.addReadinessCheck('state', async () => {
    await firstValueFrom(
      state.client.listClusters({ maxResults: 1, nextToken: '' }).pipe(timeout({ first: 2000 })),
    );
    return true;
  });
  const requests = new Counter({
    name: 'wharf_api_requests_total',
    help: 'ECS API requests by operation and HTTP status',
    labelNames: ['operation', 'status'],
    registers: [ops.registry],
  });
  const duration = new Histogram({
    name: 'wharf_api_request_duration_seconds',
    help: 'ECS API request duration by operation',
    labelNames: ['operation'],
    registers: [ops.registry],
  });

  const app = await NestFactory.create<NestExpressApplication>(
    ApiModule.create(config, dispatcher, scheduler.client, state.client, logger, auth),
    new ExpressAdapter(),
    { bodyParser: false, logger: new PinoNestLogger(logger) },
  );
  app.disable('x-powered-by');
  // No ETag: ECS answers carry none, and Express hashed every answer (SHA-1) to make one, about
  // 2% of the api's CPU under RunTask load.
  app.set('etag', false);
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET') return next();
    ops
      .handle(req, res)
      .then((handled) => (handled ? undefined : next()))
      .catch(next);
  });
  // Ops endpoints are answered above and not logged per request.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    // AWS SDKs read this into $metadata.requestId; the log line carries the same id.
    const requestId = randomUUID();
    res.setHeader('x-amzn-requestid', requestId);
    res.locals.requestId = requestId;
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const operation = (res.locals.operation as string | undefined) ?? '-';
      requests.inc({ operation, status: String(res.statusCode) });
      duration.observe({ operation }, seconds);
      logger.info(
        {
          requestId,
          principal: res.locals.principal as string | undefined,
          operation,
          status: res.statusCode,
          errorType: res.locals.errorType as string | undefined,
          durationMs: Math.round(seconds * 1000),
        },
        'ecs request',
      );
    });
    next();
  });
  // /v1 takes the same access keys as bearer tokens; its description and docs page are open.
  app.use('/v1', (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET' && (req.path === '/openapi.json' || req.path === '/docs')) {
      return next();
    }
    auth
      .bearer(req.headers.authorization)
      .then((principal) => {
        res.locals.principal = principal;
        next();
      })
      .catch((err: unknown) => {
        if (!(err instanceof EcsApiError)) return next(err);
        res.locals.errorType = err.type;
        res.status(err.status).json({ message: err.message, code: err.type });
      });
  });
  app.useGlobalFilters(new EcsExceptionFilter(logger));

  try {
    await app.listen(config.API_PORT, config.API_HOST);
  } catch (err) {
    await app.close().catch(() => undefined);
    state.close();
    scheduler.close();
    throw err;
  }
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const host = config.API_HOST === '0.0.0.0' ? '127.0.0.1' : config.API_HOST;
  const url = `http://${host}:${port}`;
  logger.info(
    { url, stateUrl: config.STATE_URL, schedulerUrl: config.SCHEDULER_URL },
    'api listening',
  );

  return {
    url,
    port,
    async stop() {
      ops.markShuttingDown();
      await app.close();
      state.close();
      scheduler.close();
    },
  };
}
