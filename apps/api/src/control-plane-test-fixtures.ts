/**
 * For the api's integration specs: Postgres and NATS from Testcontainers, and the real state,
 * scheduler and api in this process, each on a free port, as every such spec starts them (or
 * all but the scheduler, with `scheduler: false`). Not part of the service.
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
  /**
   * the scheduler's; or `false` for none at all, for specs whose operations never reach it:
   * no scheduler starts, the api's SCHEDULER_URL is a closed port (`127.0.0.1:1`, unless `api`
   * gives one) so a call that does reach it fails as against a scheduler that is away, and the
   * returned `scheduler` is undefined
   */
  scheduler?: Record<string, string> | false;
  /**
   * the api's; API_AUTH is `dev` (any access key) unless given: authentication has its own
   * tests (auth.int-spec.ts)
   */
  api?: Record<string, string>;
}

/**
 * What started. `Scheduler` is `RunningScheduler` when one started, `undefined` with
 * `scheduler: false`; `startControlPlane` answers the one its options ask for.
 */
export interface ControlPlane<
  Scheduler extends RunningScheduler | undefined = RunningScheduler | undefined,
> {
  postgres: StartedPostgres;
  nats: StartedNats;
  state: RunningState;
  /** undefined when started with `scheduler: false` */
  scheduler: Scheduler;
  api: RunningApi;
  /** stops what started, the api first and the containers last; never throws */
  stop(): Promise<void>;
}

/** A port nobody listens on: the api's SCHEDULER_URL when no scheduler runs. */
const CLOSED_PORT_URL = '127.0.0.1:1';

export function startControlPlane(
  options: ControlPlaneOptions & { scheduler: false },
): Promise<ControlPlane<undefined>>;
export function startControlPlane(
  options: ControlPlaneOptions & { scheduler?: Record<string, string> },
): Promise<ControlPlane<RunningScheduler>>;
export function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane>;
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
    let scheduler: RunningScheduler | undefined;
    if (options.scheduler !== false) {
      const running = await startScheduler(
        loadConfig(schedulerConfigSchema, {
          STATE_URL: state.grpcUrl,
          NATS_URL: nats.url,
          SCHEDULER_GRPC_PORT: '0',
          SCHEDULER_OPS_PORT: '0',
          ...options.scheduler,
        }),
        logger,
      );
      stops.unshift(() => running.stop());
      scheduler = running;
    }
    const api = await startApi(
      loadConfig(apiConfigSchema, {
        API_AUTH: 'dev',
        API_PORT: '0',
        API_HOST: '127.0.0.1',
        STATE_URL: state.grpcUrl,
        SCHEDULER_URL: scheduler?.grpcUrl ?? CLOSED_PORT_URL,
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
