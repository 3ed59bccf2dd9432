import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, ensureStreams } from '@wharf/messaging';
import { OpsServer, PinoNestLogger, type Logger } from '@wharf/observability';
import { createStateClient, type GrpcClient, type stateV1 } from '@wharf/proto';
import { firstValueFrom, timeout } from 'rxjs';
import type { LbConfig } from './config';
import { ControlPlane } from './control-plane';
import { DataPlane } from './data-plane';
import { ElbEventWatcher } from './elb-event-watcher';
import type { TargetHealthReport } from './health-checker';
import { ClusterOpsServer, LbCluster } from './lb-cluster';
import { LbMetrics } from './lb-metrics';
import type { ProxyOptions } from './proxy';
import { GrpcLbStateSource } from './lb-state-source';
import { TaskEventWatcher } from './task-event-watcher';

/** Releases the connections the lb holds when Nest shuts the application down. */
@Injectable()
class Connections implements OnApplicationShutdown {
  constructor(
    private readonly nats: NatsConnection,
    private readonly state: GrpcClient<stateV1.StateServiceClient>,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.state.close();
    await this.nats.drain().catch(() => undefined);
  }
}

export interface RunningLb {
  stop(): Promise<void>;
  opsPort: number;
  /** the model, live configuration and health checks (in the primary with LB_WORKERS > 1) */
  control: ControlPlane;
  /** with LB_WORKERS = 1: the one process serving the listeners */
  dataPlane?: DataPlane;
  /** with LB_WORKERS > 1: the worker processes serving the listeners */
  cluster?: LbCluster;
  /** resolves once every serving process has applied the configuration and opened its listeners */
  ready(): Promise<void>;
}

export interface StartLbOptions {
  /**
   * how a worker process is started (LB_WORKERS > 1); default: this process's entry point,
   * which is main.ts in the service. Tests running TypeScript give a launcher and worker-main.ts.
   */
  worker?: { exec: string; args?: string[]; execArgv?: string[] };
}

/**
 * The load balancer service: it reads load balancers, listeners, rules, target groups and
 * targets from state, follows their `_elb` events, serves every listener port (the data
 * plane), health-checks targets and reports their health to state. README.md has the
 * behaviour. With LB_WORKERS > 1 this process is the primary: it does all of that but the
 * serving, which LB_WORKERS worker processes do from the configuration it sends them.
 */
export async function startLb(
  config: LbConfig,
  logger: Logger,
  options: StartLbOptions = {},
): Promise<RunningLb> {
  const nats = await connectNats({ servers: config.NATS_URL, name: 'wharf-lb' });
  await ensureStreams(nats);
  const state = createStateClient(config.STATE_URL);
  const metrics = new LbMetrics();
  const source = new GrpcLbStateSource(state);
  const controlOptions = {
    logger,
    metrics,
    readAll: () => source.readAll(),
    reportTargetHealth: (reports: TargetHealthReport[]) => source.reportTargetHealth(reports),
    resyncMs: config.LB_RESYNC_MS,
  };
  const proxyOptions: ProxyOptions = {
    bindHost: config.LB_BIND_HOST,
    maxSocketsPerTarget: config.LB_TARGET_MAX_SOCKETS,
    targetIdleSocketMs: config.LB_TARGET_IDLE_SOCKET_MS,
    closeGraceMs: config.SHUTDOWN_TIMEOUT_MS,
    debugHeaders: config.LB_DEBUG_HEADERS,
    nodeHttpOnly: config.LB_NODE_HTTP,
  };
  const multiProcess = config.LB_WORKERS > 1;
  const dataPlane = multiProcess
    ? undefined
    : new DataPlane({ ...controlOptions, ...proxyOptions });
  const control = dataPlane ?? new ControlPlane(controlOptions);
  const lbCluster = multiProcess
    ? new LbCluster(control.live, {
        workers: config.LB_WORKERS,
        logger,
        logLevel: logger.level,
        proxy: proxyOptions,
        // The workers never take longer than the service's own shutdown allows.
        stopTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
        ...options.worker,
      })
    : undefined;
  if (lbCluster) control.onResync(() => lbCluster.broadcast());

  @Module({
    providers: [
      { provide: TaskEventWatcher, useFactory: () => new TaskEventWatcher(nats, logger) },
      {
        provide: ElbEventWatcher,
        useFactory: () => new ElbEventWatcher(nats, control.model, metrics, logger),
      },
      { provide: Connections, useFactory: () => new Connections(nats, state) },
    ],
  })
  class LbModule {}

  const app = await NestFactory.createApplicationContext(LbModule, {
    logger: new PinoNestLogger(logger),
  });
  app.enableShutdownHooks();
  const watcher = app.get(TaskEventWatcher);
  await watcher.start();
  // Events first, then the full read: what changes during the read is not missed, and the
  // model's versions sort out the overlap.
  const elbWatcher = app.get(ElbEventWatcher);
  await elbWatcher.start();
  await control.start();
  await lbCluster?.start();

  const ops = lbCluster
    ? new ClusterOpsServer('lb', logger, lbCluster)
    : new OpsServer('lb', logger);
  watcher.registerMetrics(ops.registry);
  metrics.register(ops.registry);
  lbCluster?.registerMetrics(ops.registry);
  ops.addReadinessCheck('nats', () => !nats.isClosed());
  ops.addReadinessCheck('config', () => control.hasSynced());
  if (lbCluster) ops.addReadinessCheck('workers', () => lbCluster.serving() > 0);
  ops.addReadinessCheck('state', async () => {
    await firstValueFrom(
      state.client.listClusters({ maxResults: 1, nextToken: '' }).pipe(timeout(2000)),
    );
    return true;
  });
  await ops.listen(config.LB_OPS_PORT);

  return {
    opsPort: ops.port(),
    control,
    dataPlane,
    cluster: lbCluster,
    ready: async () => {
      if (lbCluster) await lbCluster.ready();
      else await dataPlane?.proxy.ready();
    },
    stop: async () => {
      ops.markShuttingDown();
      await watcher.stop();
      await elbWatcher.stop();
      await control.stop();
      await lbCluster?.stop();
      await ops.close();
      await app.close();
    },
  };
}
