import 'reflect-metadata';
import { createServer } from 'node:net';
import { DynamicModule, Module, Provider } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { connectNats, ensureStreams, JetStreamPublisher } from '@wharf/messaging';
import { OpsServer, PinoNestLogger } from '@wharf/observability';
import { grpcOptions, GrpcExceptionFilter, grpcTlsFromEnv } from '@wharf/proto';
import { AdminCallerGuard } from './admin-caller.guard';
import { ApplyHeartbeatUseCase } from './apply-heartbeat.use-case';
import { ApplyTaskReportUseCase } from './apply-task-report.use-case';
import { ApplyUtilisationReportUseCase } from './apply-utilisation-report.use-case';
import { ChangeAttributesUseCase } from './change-attributes.use-case';
import { ClientTokensUseCase } from './client-tokens.use-case';
import { ClusterRepository } from './cluster.repository';
import { CommitPlacementsUseCase } from './commit-placements.use-case';
import type { StateConfig } from './config';
import { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { CreateClusterUseCase } from './create-cluster.use-case';
import { CreateServiceUseCase } from './create-service.use-case';
import { DeleteClusterUseCase } from './delete-cluster.use-case';
import { DeleteTaskDefinitionsUseCase } from './delete-task-definitions.use-case';
import { DeregisterTaskDefinitionUseCase } from './deregister-task-definition.use-case';
import { SweepDeletedTaskDefinitionsUseCase } from './sweep-deleted-task-definitions.use-case';
import { TaskDefinitionQueries } from './task-definition.queries';
import { UpdateClusterUseCase } from './update-cluster.use-case';
import { DeleteLbResourceUseCase } from './delete-lb-resource.use-case';
import { DeleteServiceUseCase } from './delete-service.use-case';
import { DeregisterContainerInstanceUseCase } from './deregister-container-instance.use-case';
import { DeregisterTargetsUseCase } from './deregister-targets.use-case';
import { createPool, translateDatabaseErrors } from './db';
import { GetTaskProtectionQuery } from './get-task-protection.query';
import { GetUtilisationQuery } from './get-utilisation.query';
import { LbQueries } from './lb.queries';
import { LbRepository } from './lb.repository';
import { LeaseRepository } from './lease.repository';
import { AccessKeysUseCase } from './access-keys.use-case';
import { JoinTokensUseCase } from './join-tokens.use-case';
import { AccountSettingRepository } from './account-setting.repository';
import { AccountSettingsUseCase } from './account-settings.use-case';
import { ResourceTagRepository } from './resource-tag.repository';
import { ResourceTagsUseCase } from './resource-tags.use-case';
import { LeasesUseCase } from './leases.use-case';
import { ListAttributesQuery } from './list-attributes.query';
import { MarkDisconnectedAgentsUseCase } from './mark-disconnected-agents.use-case';
import { MarkInstanceTasksLostUseCase } from './mark-instance-tasks-lost.use-case';
import { MarkTaskStoppingUseCase } from './mark-task-stopping.use-case';
import { migrate } from './migrations/migrator';
import { OutboxRelay } from './outbox-relay';
import { OutboxRepository } from './outbox.repository';
import { Periodic } from './periodic';
import { PutLbResourceUseCase } from './put-lb-resource.use-case';
import { RecordServiceProgressUseCase } from './record-service-progress.use-case';
import { RegisterContainerInstanceUseCase } from './register-container-instance.use-case';
import { RegisterTargetsUseCase } from './register-targets.use-case';
import { RegisterTaskDefinitionUseCase } from './register-task-definition.use-case';
import { ReportTargetHealthUseCase } from './report-target-health.use-case';
import { ReportConsumer } from './report-consumer';
import { ServiceQueries } from './service.queries';
import { ServiceRepository } from './service.repository';
import { StateController } from './state.controller';
import { StateQueries } from './state.queries';
import { PruneHistoryUseCase } from './prune-history.use-case';
import { SweepDrainedTargetsUseCase } from './sweep-drained-targets.use-case';
import { TargetRepository } from './target.repository';
import { TaskDefinitionRepository } from './task-definition.repository';
import { TaskRepository } from './task.repository';
import { UpdateContainerInstancesStateUseCase } from './update-container-instances-state.use-case';
import { UpdateServiceUseCase } from './update-service.use-case';
import { UpdateTaskProtectionUseCase } from './update-task-protection.use-case';
import { UtilisationRepository } from './utilisation.repository';

export interface RunningState {
  stop(): Promise<void>;
  /** `host:port` of the gRPC server (the real port when STATE_GRPC_PORT was 0). */
  grpcUrl: string;
  opsPort: number;
}

@Module({})
class StateModule {
  static register(providers: Provider[]): DynamicModule {
    return { module: StateModule, controllers: [StateController], providers };
  }
}

/**
 * Starts the state service in this process: migrates Postgres, connects NATS, serves gRPC,
 * relays the outbox and consumes agent reports. Used by main.ts and by tests.
 */
export async function startState(config: StateConfig, logger: Logger): Promise<RunningState> {
  // A bad GRPC_TLS_* setting stops state now, before it migrates anything.
  const tls = grpcTlsFromEnv();
  const pool = createPool(config.DATABASE_URL, {
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: config.DATABASE_QUERY_TIMEOUT_MS,
  });
  pool.on('error', (err) => logger.error({ err }, 'idle Postgres connection failed'));
  const cleanup: (() => Promise<unknown>)[] = [() => pool.end()];
  try {
    // A connection of their own, without the statement timeout: a migration may take long,
    // and replicas starting together wait for each other's.
    const migrations = createPool(config.DATABASE_URL, {
      connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
      queryTimeoutMs: 0,
      max: 1,
    });
    migrations.on('error', (err) => logger.warn({ err }, 'idle migration connection failed'));
    try {
      await migrate(migrations, logger);
    } finally {
      await migrations.end();
    }

    const nc = await connectNats({ servers: config.NATS_URL, name: 'state' });
    cleanup.unshift(() => nc.close());
    let natsConnected = true;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') natsConnected = false;
        if (s.type === 'reconnect') natsConnected = true;
      }
    })();
    await ensureStreams(nc);
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);

    const ctx: StateContext = {
      pool,
      logger,
      arn: { region: config.WHARF_REGION, accountId: config.WHARF_ACCOUNT_ID },
      agentHeartbeatTtlMs: config.AGENT_HEARTBEAT_TTL_MS,
    };
    const clusters = new ClusterRepository(ctx.arn);
    const taskDefinitions = new TaskDefinitionRepository(ctx.arn);
    const instances = new ContainerInstanceRepository(ctx.arn, ctx.agentHeartbeatTtlMs);
    const tasks = new TaskRepository(ctx.arn);
    const outbox = new OutboxRepository();
    const utilisation = new UtilisationRepository();
    const clientTokens = new ClientTokensUseCase(ctx, clusters);
    const services = new ServiceRepository(ctx.arn);
    const lbResources = new LbRepository();
    const lbTargets = new TargetRepository();
    const joinTokens = new JoinTokensUseCase(ctx, clusters);
    if (config.STATE_AGENT_JOIN === 'open') {
      logger.warn(
        'STATE_AGENT_JOIN=open: any agent that reaches this gRPC port may join any cluster (development only)',
      );
    }

    const providers: Provider[] = [
      {
        provide: StateQueries,
        useValue: new StateQueries(ctx, clusters, taskDefinitions, instances, tasks),
      },
      { provide: CreateClusterUseCase, useValue: new CreateClusterUseCase(ctx, clusters, outbox) },
      {
        provide: RegisterTaskDefinitionUseCase,
        useValue: new RegisterTaskDefinitionUseCase(ctx, taskDefinitions, outbox),
      },
      {
        provide: RegisterContainerInstanceUseCase,
        useValue: new RegisterContainerInstanceUseCase(
          ctx,
          clusters,
          instances,
          tasks,
          outbox,
          config.STATE_AGENT_JOIN === 'token'
            ? (tx, token, cluster, returning) => joinTokens.admit(tx, token, cluster, returning)
            : undefined,
        ),
      },
      {
        provide: CommitPlacementsUseCase,
        useValue: new CommitPlacementsUseCase(ctx, clusters, instances, tasks, outbox),
      },
      {
        provide: MarkTaskStoppingUseCase,
        useValue: new MarkTaskStoppingUseCase(ctx, tasks, instances, outbox),
      },
      {
        provide: DeregisterContainerInstanceUseCase,
        useValue: new DeregisterContainerInstanceUseCase(ctx, clusters, instances, tasks, outbox),
      },
      {
        provide: UpdateTaskProtectionUseCase,
        useValue: new UpdateTaskProtectionUseCase(ctx, clusters, tasks, outbox),
      },
      {
        provide: GetTaskProtectionQuery,
        useValue: new GetTaskProtectionQuery(ctx, clusters, tasks),
      },
      {
        provide: MarkInstanceTasksLostUseCase,
        useValue: new MarkInstanceTasksLostUseCase(ctx, instances, tasks, outbox),
      },
      {
        provide: GetUtilisationQuery,
        useValue: new GetUtilisationQuery(
          ctx,
          clusters,
          instances,
          tasks,
          utilisation,
          config.UTILISATION_HISTORY_SAMPLES,
        ),
      },
      {
        provide: UpdateContainerInstancesStateUseCase,
        useValue: new UpdateContainerInstancesStateUseCase(ctx, clusters, instances, outbox),
      },
      {
        provide: ChangeAttributesUseCase,
        useValue: new ChangeAttributesUseCase(ctx, clusters, instances, outbox),
      },
      { provide: ListAttributesQuery, useValue: new ListAttributesQuery(ctx, clusters, instances) },
      { provide: ClientTokensUseCase, useValue: clientTokens },
      {
        provide: CreateServiceUseCase,
        useValue: new CreateServiceUseCase(
          ctx,
          clusters,
          taskDefinitions,
          services,
          outbox,
          lbResources,
        ),
      },
      {
        provide: UpdateServiceUseCase,
        useValue: new UpdateServiceUseCase(
          ctx,
          clusters,
          taskDefinitions,
          services,
          outbox,
          lbResources,
        ),
      },
      {
        provide: DeleteServiceUseCase,
        useValue: new DeleteServiceUseCase(ctx, clusters, services, outbox),
      },
      { provide: ServiceQueries, useValue: new ServiceQueries(ctx, clusters, services, tasks) },
      {
        provide: RecordServiceProgressUseCase,
        useValue: new RecordServiceProgressUseCase(ctx, clusters, services, outbox),
      },
      { provide: LeasesUseCase, useValue: new LeasesUseCase(ctx, new LeaseRepository()) },
      { provide: DeleteClusterUseCase, useValue: new DeleteClusterUseCase(ctx, clusters, outbox) },
      { provide: UpdateClusterUseCase, useValue: new UpdateClusterUseCase(ctx, clusters, outbox) },
      {
        provide: DeregisterTaskDefinitionUseCase,
        useValue: new DeregisterTaskDefinitionUseCase(ctx, taskDefinitions, outbox),
      },
      {
        provide: DeleteTaskDefinitionsUseCase,
        useValue: new DeleteTaskDefinitionsUseCase(ctx, taskDefinitions, outbox),
      },
      {
        provide: TaskDefinitionQueries,
        useValue: new TaskDefinitionQueries(ctx, taskDefinitions),
      },
      { provide: AccessKeysUseCase, useValue: new AccessKeysUseCase(ctx) },
      { provide: JoinTokensUseCase, useValue: joinTokens },
      {
        provide: ResourceTagsUseCase,
        useValue: new ResourceTagsUseCase(ctx, clusters, new ResourceTagRepository()),
      },
      {
        provide: AccountSettingsUseCase,
        useValue: new AccountSettingsUseCase(ctx, new AccountSettingRepository()),
      },
      {
        provide: PutLbResourceUseCase,
        useValue: new PutLbResourceUseCase(ctx, lbResources, outbox),
      },
      {
        provide: DeleteLbResourceUseCase,
        useValue: new DeleteLbResourceUseCase(ctx, lbResources, lbTargets, outbox),
      },
      { provide: LbQueries, useValue: new LbQueries(ctx, lbResources, lbTargets) },
      {
        provide: RegisterTargetsUseCase,
        useValue: new RegisterTargetsUseCase(ctx, lbResources, lbTargets, outbox),
      },
      {
        provide: DeregisterTargetsUseCase,
        useValue: new DeregisterTargetsUseCase(ctx, lbResources, lbTargets, outbox),
      },
      {
        provide: ReportTargetHealthUseCase,
        useValue: new ReportTargetHealthUseCase(ctx, lbTargets, outbox),
      },
    ];

    const ops = new OpsServer('state', logger);
    ops.addReadinessCheck('postgres', async () => {
      await pool.query('SELECT 1');
      return true;
    });
    ops.addReadinessCheck('nats', () => natsConnected && !nc.isClosed());

    const grpcPort = config.STATE_GRPC_PORT || (await freePort());
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(
      StateModule.register(providers),
      {
        ...grpcOptions('state', `0.0.0.0:${grpcPort}`, tls),
        logger: new PinoNestLogger(logger),
      },
    );
    app.useGlobalFilters(
      new GrpcExceptionFilter(logger, 'state', (err) => translateDatabaseErrors(err, logger)),
    );
    // Only TLS tells callers apart; without it no guard sits in front of every rpc.
    if (tls) app.useGlobalGuards(new AdminCallerGuard(config.STATE_ADMIN_CLIENTS));
    await app.listen();
    cleanup.unshift(() => app.close());

    const relayPublisher = new JetStreamPublisher(nc);
    const relay = new OutboxRelay(
      pool,
      relayPublisher,
      outbox,
      logger,
      ops.registry,
      config.OUTBOX_RETENTION_MS,
    );
    relay.start();
    cleanup.unshift(() => relay.stop().finally(() => relayPublisher.close()));
    const consumer = new ReportConsumer(
      js,
      jsm,
      new ApplyTaskReportUseCase(ctx, tasks, instances, outbox),
      new ApplyHeartbeatUseCase(ctx, instances, outbox),
      new ApplyUtilisationReportUseCase(ctx, utilisation, config.UTILISATION_HISTORY_SAMPLES),
      logger,
      ops.registry,
    );
    await consumer.start();
    cleanup.unshift(() => consumer.stop());

    // Agent liveness and utilisation retention: leader-free, every replica runs them.
    const markDisconnected = new MarkDisconnectedAgentsUseCase(ctx, instances, outbox);
    const liveness = new Periodic(
      'agent-liveness',
      config.AGENT_LIVENESS_INTERVAL_MS ??
        Math.min(5_000, Math.max(100, Math.floor(config.AGENT_HEARTBEAT_TTL_MS / 5))),
      () => markDisconnected.execute(),
      logger,
    );
    liveness.start();
    cleanup.unshift(() => liveness.stop());
    const retention = new Periodic(
      'utilisation-retention',
      60_000,
      () => utilisation.pruneOlderThan(pool, config.UTILISATION_RETENTION_MS),
      logger,
    );
    retention.start();
    cleanup.unshift(() => retention.stop());
    const tokenExpiry = new Periodic(
      'client-token-expiry',
      10 * 60_000,
      () => clientTokens.pruneExpired(),
      logger,
    );
    tokenExpiry.start();
    cleanup.unshift(() => tokenExpiry.stop());
    const sweepDrained = new SweepDrainedTargetsUseCase(ctx, lbTargets, outbox);
    const drainedTargets = new Periodic(
      'drained-targets',
      config.LB_TARGET_SWEEP_INTERVAL_MS,
      () => sweepDrained.execute(),
      logger,
    );
    drainedTargets.start();
    cleanup.unshift(() => drainedTargets.stop());
    // STOPPED tasks and INACTIVE deployments go after TASK_RETENTION_MS.
    const pruneHistory = new PruneHistoryUseCase(ctx, tasks, services, config.TASK_RETENTION_MS);
    const history = new Periodic(
      'history',
      Math.min(60_000, Math.max(100, Math.floor(config.TASK_RETENTION_MS / 4))),
      () => pruneHistory.execute(),
      logger,
    );
    history.start();
    cleanup.unshift(() => history.stop());
    // DELETE_IN_PROGRESS task definitions go once no task or service uses them.
    const sweepDeleted = new SweepDeletedTaskDefinitionsUseCase(ctx, taskDefinitions, outbox);
    const deletedTaskDefinitions = new Periodic(
      'deleted-task-definitions',
      config.TASK_DEFINITION_SWEEP_INTERVAL_MS,
      () => sweepDeleted.execute(),
      logger,
    );
    deletedTaskDefinitions.start();
    cleanup.unshift(() => deletedTaskDefinitions.stop());

    const opsPort = config.STATE_OPS_PORT || (await freePort());
    await ops.listen(opsPort);
    logger.info({ grpcPort, opsPort }, 'state service ready');

    return {
      grpcUrl: `127.0.0.1:${grpcPort}`,
      opsPort,
      async stop() {
        ops.markShuttingDown();
        await liveness.stop();
        await retention.stop();
        await tokenExpiry.stop();
        await drainedTargets.stop();
        await history.stop();
        await deletedTaskDefinitions.stop();
        await consumer.stop(); // no new reports; the one in flight finishes
        await app.close(); // graceful: in-flight RPCs complete
        await relay.stop(); // publishes what those last writes produced
        relayPublisher.close();
        await nc.drain();
        await pool.end();
        await ops.close();
      },
    };
  } catch (err) {
    for (const step of cleanup) await step().catch(() => undefined);
    throw err;
  }
}

/** A port the OS reports free right now (for port 0 in tests). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
