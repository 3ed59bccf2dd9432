import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import type { stateV1 } from '@wharf/proto';
import type { ApiConfig } from '../config';
import { API_CONFIG, API_LOGGER, STATE_CLIENT } from '../tokens';
import { LbResources } from './lb-resources';
import { ListenersController } from './listeners.controller';
import { LoadBalancersController } from './load-balancers.controller';
import { RulesController } from './rules.controller';
import { TargetGroupsController } from './target-groups.controller';

/** Load balancer management under `/v1`: load balancers, listeners, rules, target groups. */
@Module({})
export class LbApiModule {
  static create(deps: {
    config: ApiConfig;
    state: stateV1.StateServiceClient;
    logger: Logger;
  }): DynamicModule {
    return {
      module: LbApiModule,
      controllers: [
        LoadBalancersController,
        ListenersController,
        RulesController,
        TargetGroupsController,
      ],
      providers: [
        LbResources,
        { provide: API_CONFIG, useValue: deps.config },
        { provide: STATE_CLIENT, useValue: deps.state },
        { provide: API_LOGGER, useValue: deps.logger },
      ],
    };
  }
}
