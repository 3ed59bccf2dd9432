import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, ensureStreams } from '@wharf/messaging';
import { OpsServer, PinoNestLogger, type Logger } from '@wharf/observability';
import { createStateClient, type GrpcClient, type stateV1 } from '@wharf/proto';
import { firstValueFrom, timeout } from 'rxjs';
import type { LbConfig } from './config';
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
}

/**
 * The load balancer service. This part: it connects to state and NATS, follows task
 * events (the targets of later issues come from them) and serves health and metrics. The
 * proxy itself, listeners and target groups come with the load balancer issue.
 */
export async function startLb(config: LbConfig, logger: Logger): Promise<RunningLb> {
  const nats = await connectNats({ servers: config.NATS_URL, name: 'wharf-lb' });
  await ensureStreams(nats);
  const state = createStateClient(config.STATE_URL);

  @Module({
    providers: [
      { provide: TaskEventWatcher, useFactory: () => new TaskEventWatcher(nats, logger) },
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

  const ops = new OpsServer('lb', logger);
  watcher.registerMetrics(ops.registry);
  ops.addReadinessCheck('nats', () => !nats.isClosed());
  ops.addReadinessCheck('state', async () => {
    await firstValueFrom(
      state.client.listClusters({ maxResults: 1, nextToken: '' }).pipe(timeout(2000)),
    );
    return true;
  });
  await ops.listen(config.LB_OPS_PORT);

  return {
    opsPort: ops.port(),
    stop: async () => {
      ops.markShuttingDown();
      await watcher.stop();
      await ops.close();
      await app.close();
    },
  };
}
