import { DynamicModule, INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions } from '@nestjs/microservices';
import { OpsServer, PinoNestLogger } from '@wharf/observability';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats } from '@wharf/messaging';
import { createStateClient, grpcOptions, GrpcExceptionFilter, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { firstValueFrom, timeout } from 'rxjs';
import { AgentClients } from './agent-clients';
import type { SchedulerConfig } from './config';
import { followClusterEvents } from './cluster-events';
import { ClusterSnapshots } from './cluster-snapshots';
import { ExplainUseCase } from './explain.use-case';
import { freePort } from './free-port';
import { LaunchRedelivery } from './launch-redelivery';
import { Lookups } from './lookups';
import { PlacementBatcher } from './placement-batcher';
import { createPlanner, Planner } from './planner';
import { RunTaskUseCase } from './run-task.use-case';
import { SchedulerController } from './scheduler.controller';
import { StartTaskUseCase } from './start-task.use-case';
import { ServiceScheduler } from './services/service-scheduler';
import { StopTaskUseCase } from './stop-task.use-case';
import { TaskLauncher } from './task-launch';
import { LOGGER, PLANNER, SCHEDULER_CONFIG, STATE_CLIENT } from './tokens';

@Module({})
class SchedulerModule {
  static create(deps: {
    config: SchedulerConfig;
    logger: Logger;
    state: stateV1.StateServiceClient;
    agents: AgentClients;
    launcher: TaskLauncher;
    snapshots: ClusterSnapshots;
    batcher: PlacementBatcher;
    planner: Planner;
  }): DynamicModule {
    return {
      module: SchedulerModule,
      controllers: [SchedulerController],
      providers: [
        { provide: SCHEDULER_CONFIG, useValue: deps.config },
        { provide: LOGGER, useValue: deps.logger },
        { provide: STATE_CLIENT, useValue: deps.state },
        { provide: AgentClients, useValue: deps.agents },
        { provide: TaskLauncher, useValue: deps.launcher },
        { provide: ClusterSnapshots, useValue: deps.snapshots },
        { provide: PlacementBatcher, useValue: deps.batcher },
        { provide: PLANNER, useValue: deps.planner },
        RunTaskUseCase,
        StartTaskUseCase,
        StopTaskUseCase,
        ExplainUseCase,
      ],
    };
  }
}

export interface RunningScheduler {
  stop(): Promise<void>;
  /** host:port of the scheduler's gRPC server */
  grpcUrl: string;
  opsPort: number;
}

export async function startScheduler(
  config: SchedulerConfig,
  logger: Logger,
): Promise<RunningScheduler> {
  // Nest's gRPC server does not report the port it bound, so 0 is resolved here first.
  const grpcPort = config.SCHEDULER_GRPC_PORT || (await freePort('0.0.0.0'));
  const state = createStateClient(config.STATE_URL);
  const agents = new AgentClients();
  const lookups = new Lookups(state.client);
  const launcher = new TaskLauncher(state.client, agents, logger, config, lookups);
  const snapshots = new ClusterSnapshots(
    (cluster) => launcher.listInstances(cluster),
    config.SCHEDULER_SNAPSHOT_RESYNC_MS,
  );
  const planner = createPlanner();
  const batcher = new PlacementBatcher(state.client, snapshots, launcher, planner, logger);

  const ops = new OpsServer('scheduler', logger);
  ops.addReadinessCheck('state', async () => {
    await firstValueFrom(
      state.client.listClusters({ maxResults: 1, nextToken: '' }).pipe(timeout({ first: 2000 })),
    );
    return true;
  });
  let app: INestMicroservice | undefined;
  let nats: NatsConnection | undefined;
  let unfollow: (() => Promise<void>) | undefined;
  let services: ServiceScheduler | undefined;
  const release = async () => {
    ops.markShuttingDown();
    await services?.stop();
    await app?.close();
    await unfollow?.();
    await nats?.close();
    await ops.close();
    agents.closeAll();
    state.close();
  };
  try {
    nats = await connectNats({ servers: config.NATS_URL, name: 'scheduler' });
    unfollow = followClusterEvents(nats, snapshots, lookups, logger, (cluster, instance) =>
      services?.instanceChanged(cluster, instance),
    );
    app = await NestFactory.createMicroservice<MicroserviceOptions>(
      SchedulerModule.create({
        config,
        logger,
        state: state.client,
        agents,
        launcher,
        snapshots,
        batcher,
        planner,
      }),
      { ...grpcOptions('scheduler', `0.0.0.0:${grpcPort}`), logger: new PinoNestLogger(logger) },
    );
    app.useGlobalFilters(new GrpcExceptionFilter(logger, 'scheduler'));
    await app.listen();
    services = new ServiceScheduler(
      state.client,
      launcher,
      batcher,
      app.get(StopTaskUseCase),
      snapshots,
      planner,
      new LaunchRedelivery(
        state.client,
        agents,
        lookups,
        logger,
        {
          afterMs: config.SCHEDULER_LAUNCH_REDELIVERY_MS,
          callTimeoutMs: config.AGENT_CALL_TIMEOUT_MS,
        },
        ops.registry,
      ),
      logger,
      {
        reconcileIntervalMs: config.SERVICE_RECONCILE_INTERVAL_MS,
        healthyAfterRunningMs: config.SERVICE_HEALTHY_AFTER_RUNNING_MS,
        throttleBaseMs: config.SERVICE_THROTTLE_BASE_MS,
        throttleMaxMs: config.SERVICE_THROTTLE_MAX_MS,
        holder: config.SCHEDULER_ID,
        leaseTtlMs: config.SERVICE_LEASE_TTL_MS,
        lostInstanceGraceMs: config.SERVICE_LOST_INSTANCE_GRACE_MS,
      },
    );
    services.start(nats);
    await ops.listen(config.SCHEDULER_OPS_PORT);
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
  const opsPort = ops.port();
  const grpcUrl = `127.0.0.1:${grpcPort}`;
  logger.info({ grpcUrl, stateUrl: config.STATE_URL }, 'scheduler listening');

  return {
    grpcUrl,
    opsPort,
    stop: release,
  };
}
