import cluster from 'node:cluster';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createLogger } from '@wharf/observability';
import { LbMetrics } from './lb-metrics';
import {
  LB_WORKER_ENV,
  type PrimaryMessage,
  type WorkerInit,
  type WorkerMessage,
} from './lb-worker-protocol';
import { ProxyManager } from './proxy';
import { ReplicaLiveConfig } from './replica-live-config';

/** After the close grace, a worker that still has not stopped exits anyway. */
const EXIT_MARGIN_MS = 2_000;

/**
 * One worker process of a multi-process lb (started by `LbCluster` in the primary): it
 * serves the listeners — node:cluster shares their ports with the other workers — from the
 * configuration the primary sends over IPC. It holds no connection to state or NATS and
 * runs no health checks: the primary does that once for all workers.
 */
export function runLbWorker(): void {
  const raw = process.env[LB_WORKER_ENV];
  if (!cluster.isWorker || !raw || !process.send) {
    throw new Error(`an lb worker is started by the lb's primary process (${LB_WORKER_ENV} unset)`);
  }
  const init = JSON.parse(raw) as WorkerInit;
  const logger = createLogger('lb', init.logLevel).child({
    worker: cluster.worker?.id,
    pid: process.pid,
  });
  const metrics = new LbMetrics();
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'lb' });
  collectDefaultMetrics({ register: registry });
  metrics.register(registry);
  const live = new ReplicaLiveConfig(logger);
  const proxy = new ProxyManager(live, metrics, logger, init.proxy);
  const send = (message: WorkerMessage) => {
    if (process.connected) process.send?.(message);
  };

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'lb worker stopping');
    const deadline = setTimeout(
      () => process.exit(0),
      (init.proxy.closeGraceMs ?? 10_000) + EXIT_MARGIN_MS,
    );
    deadline.unref();
    void proxy.close().finally(() => process.exit(0));
  };

  process.on('message', (message: PrimaryMessage) => {
    switch (message?.type) {
      case 'lb:config': {
        if (stopping) return;
        live.apply(message.snapshot);
        const { seq } = message;
        void proxy.ready().then(() => send({ type: 'lb:applied', seq, ports: proxy.openPorts() }));
        return;
      }
      case 'lb:metrics-request':
        void registry
          .getMetricsAsJSON()
          .then((m) => send({ type: 'lb:metrics', requestId: message.requestId, metrics: m }))
          .catch((err: unknown) => logger.warn({ err }, 'collecting metrics failed'));
        return;
      case 'lb:shutdown':
        stop('the primary is stopping');
        return;
      default:
        return;
    }
  });
  // The primary is gone (it died, or closed the channel): finish what is in flight and go.
  process.on('disconnect', () => stop('the primary process is gone'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Ctrl-C reaches the whole process group: the primary handles it and tells its workers.
  process.on('SIGINT', () => undefined);
  send({ type: 'lb:hello' });
}
