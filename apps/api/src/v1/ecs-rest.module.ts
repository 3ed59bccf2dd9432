import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import type { ApiConfig } from '../config';
import { EcsDispatcher } from '../ecs-dispatcher';
import { API_CONFIG, API_LOGGER } from '../tokens';
import { EcsRestController } from './ecs-rest.controller';

/** The ECS operations as REST routes under `/v1` (ecs-routes.ts). */
@Module({})
export class EcsRestModule {
  static create(deps: {
    config: ApiConfig;
    dispatcher: EcsDispatcher;
    logger: Logger;
  }): DynamicModule {
    return {
      module: EcsRestModule,
      controllers: [EcsRestController],
      providers: [
        { provide: EcsDispatcher, useValue: deps.dispatcher },
        { provide: API_CONFIG, useValue: deps.config },
        { provide: API_LOGGER, useValue: deps.logger },
      ],
    };
  }
}
