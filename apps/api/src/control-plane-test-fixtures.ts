/**
 * For the api's integration specs: Postgres and NATS from Testcontainers, and the real state,
 * scheduler and api in this process, each on a free port, as every such spec starts them.
 * Not part of the service.
 */
import { loadConfig } from '@wharf/config';
import type { Logger } from '@wharf/observability';
import { startNats, startPostgres, type StartedNats, type StartedPostgres } from '@wharf/testing';
import { schedulerConfigSchema } from '../../scheduler/src/config';
import { startScheduler, type RunningScheduler } from '../../scheduler/src/scheduler';
import { stateConfigSchema } from '../../state/src/config';
import { startState, type RunningState } from '../../state/src/state';
import { startApi, type RunningApi } from './api';
import { apiConfigSchema } from './config';

export interface ControlPlaneOptions {
  logger: Logger;
  /** settings added to (or overriding) each service's defaults here */
  state?: Record<string, string>;
  scheduler?: Record<string, string>;
  /**
   * the api's; API_AUTH is `dev` (any access key) unless given: authentication has its own
   * tests (auth.int-spec.ts)
   */
  api?: Record<string, string>;
}

export interface ControlPlane {
  postgres: StartedPostgres;
  nats: StartedNats;
  state: RunningState;
  scheduler: RunningScheduler;
  api: RunningApi;
  /** stops what started, the api first and the containers last; never throws */
  stop(): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const { logger } = options;
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0)) await s().catch(() => undefined);
  };
  try {
    const [postgres, nats] = await Promise.all([startPostgres(), startNats()]);
    stops.push(
      () => postgres.container.stop(),
      () => nats.container.stop(),
    );
    const state = await startState(
      loadConfig(stateConfigSchema, {
        DATABASE_URL: postgres.url,
        NATS_URL: nats.url,
        // Agents need no join token: a spec registers its instances over gRPC.
        STATE_AGENT_JOIN: 'open',
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        ...options.state,
      }),
      logger,
    );
    stops.unshift(() => state.stop());
    const scheduler = await startScheduler(
      loadConfig(schedulerConfigSchema, {
        STATE_URL: state.grpcUrl,
        NATS_URL: nats.url,
        SCHEDULER_GRPC_PORT: '0',
        SCHEDULER_OPS_PORT: '0',
        ...options.scheduler,
      }),
      logger,
    );
    stops.unshift(() => scheduler.stop());
    const api = await startApi(
      loadConfig(apiConfigSchema, {
        API_AUTH: 'dev',
        API_PORT: '0',
        API_HOST: '127.0.0.1',
        STATE_URL: state.grpcUrl,
        SCHEDULER_URL: scheduler.grpcUrl,
        ...options.api,
      }),
      logger,
    );
    stops.unshift(() => api.stop());
    return { postgres, nats, state, scheduler, api, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
