import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, ensureStreams } from '@wharf/messaging';
import { OpsServer, PinoNestLogger, type Logger } from '@wharf/observability';
import { createStateClient, type GrpcClient, type stateV1 } from '@wharf/proto';
import { firstValueFrom, timeout } from 'rxjs';
import type { LbConfig } from './config';
import { DataPlane } from './data-plane';
import { ElbEventWatcher } from './elb-event-watcher';
import { LbMetrics } from './lb-metrics';
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
  dataPlane: DataPlane;
}

/**
 * The load balancer service: it reads load balancers, listeners, rules, target groups and
 * targets from state, follows their `_elb` events, serves every listener port (the data
 * plane), health-checks targets and reports their health to state. README.md has the
 * behaviour.
 */
export async function startLb(config: LbConfig, logger: Logger): Promise<RunningLb> {
  const nats = await connectNats({ servers: config.NATS_URL, name: 'wharf-lb' });
  await ensureStreams(nats);
  const state = createStateClient(config.STATE_URL);
  const metrics = new LbMetrics();
  const source = new GrpcLbStateSource(state);
  const dataPlane = new DataPlane({
    logger,
    metrics,
    readAll: () => source.readAll(),
    reportTargetHealth: (reports) => source.reportTargetHealth(reports),
    resyncMs: config.LB_RESYNC_MS,
    bindHost: config.LB_BIND_HOST,
    maxSocketsPerTarget: config.LB_TARGET_MAX_SOCKETS,
    targetIdleSocketMs: config.LB_TARGET_IDLE_SOCKET_MS,
    closeGraceMs: config.SHUTDOWN_TIMEOUT_MS,
  });

  @Module({
    providers: [
      { provide: TaskEventWatcher, useFactory: () => new TaskEventWatcher(nats, logger) },
      {
        provide: ElbEventWatcher,
        useFactory: () => new ElbEventWatcher(nats, dataPlane.model, metrics, logger),
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
  await dataPlane.start();

  const ops = new OpsServer('lb', logger);
  watcher.registerMetrics(ops.registry);
  metrics.register(ops.registry);
  ops.addReadinessCheck('nats', () => !nats.isClosed());
  ops.addReadinessCheck('config', () => dataPlane.hasSynced());
  ops.addReadinessCheck('state', async () => {
    await firstValueFrom(
      state.client.listClusters({ maxResults: 1, nextToken: '' }).pipe(timeout(2000)),
    );
    return true;
  });
  await ops.listen(config.LB_OPS_PORT);

  return {
    opsPort: ops.port(),
    dataPlane,
    stop: async () => {
      ops.markShuttingDown();
      await watcher.stop();
      await elbWatcher.stop();
      await dataPlane.stop();
      await ops.close();
      await app.close();
    },
  };
}
