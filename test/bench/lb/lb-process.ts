/**
 * The lb's data plane alone in a Node process of its own, for lb.bench.ts: one load balancer,
 * one HTTP listener whose default action forwards to one round-robin target group of the
 * bench's backends, with health checks on. The model is fed directly, as
 * apps/lb/src/data-plane.int-spec.ts does (no state, no NATS); everything else, from the
 * listener server to the pooled connections to targets, is the service's own code.
 *
 * With BENCH_LB_WORKERS > 1 this process is the lb's primary, as the service's is with
 * LB_WORKERS > 1: it runs the control plane (model, health checks) and an LbCluster of that
 * many worker processes (apps/lb/src/worker-main.ts through test/bench/run.js) that share the
 * listener port and are sent the configuration over IPC. With 1, the DataPlane serves here.
 *
 * Started by lb.bench.ts through test/bench/run.js with an IPC channel; it sends
 * `{ ready: true }` once every target has passed its health checks, and exits when the
 * channel closes (the bench ended, or died) or on SIGTERM.
 *
 * Environment (set by the bench):
 *   BENCH_LB_PORT                 the listener's port (bound on 127.0.0.1)
 *   BENCH_LB_TARGETS              backend ports, comma-separated, on 127.0.0.1
 *   BENCH_LB_HEALTH_INTERVAL_S    health check interval
 *   BENCH_LB_MAX_SOCKETS          connections to one target at most (LB_TARGET_MAX_SOCKETS)
 *   BENCH_LB_IDLE_SOCKET_MS       idle pooled connection lifetime (LB_TARGET_IDLE_SOCKET_MS)
 *   BENCH_LB_WORKERS (1)          processes serving the listener (LB_WORKERS)
 *   BENCH_LOG_LEVEL (warn)        the data plane's log level (to stdout)
 */
import path from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '@wharf/observability';
import { ControlPlane } from '../../../apps/lb/src/control-plane';
import { DataPlane } from '../../../apps/lb/src/data-plane';
import type { TargetHealthReport } from '../../../apps/lb/src/health-checker';
import { LbCluster } from '../../../apps/lb/src/lb-cluster';
import { LbMetrics } from '../../../apps/lb/src/lb-metrics';
import type { ProxyOptions } from '../../../apps/lb/src/proxy';
import {
  loadBalancerSpec,
  resource,
  target,
  targetGroupSpec,
} from '../../../apps/lb/src/lb-test-fixtures';

const ARN = 'arn:aws:elasticloadbalancing:us-east-1:000000000000';
const LB = `${ARN}:loadbalancer/app/bench/1`;
const LISTENER = `${ARN}:listener/app/bench/1/main`;
const GROUP = `${ARN}:targetgroup/backends/1`;
/** ALB's default idle timeout. */
const IDLE_TIMEOUT_S = 60;
const READY_TIMEOUT_MS = 60_000;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (lb-process.ts is started by lb.bench.ts)`);
  return value;
}

async function main(): Promise<void> {
  const port = Number(required('BENCH_LB_PORT'));
  const targetPorts = required('BENCH_LB_TARGETS').split(',').map(Number);
  const healthIntervalS = Number(required('BENCH_LB_HEALTH_INTERVAL_S'));
  const logger = createLogger('lb', process.env.BENCH_LOG_LEVEL ?? 'warn');
  const metrics = new LbMetrics();
  // Registered as the service registers them on its ops registry; updated per request either way.
  metrics.register(new Registry());

  const healthy = new Set<number>();
  let allHealthy!: () => void;
  const ready = new Promise<void>((resolve) => (allHealthy = resolve));
  const reportTargetHealth = async (reports: TargetHealthReport[]) => {
    for (const r of reports) {
      if (r.state === 'healthy') healthy.add(r.port);
      else {
        healthy.delete(r.port);
        logger.warn({ port: r.port, reason: r.reason }, 'target unhealthy during the bench');
      }
    }
    if (healthy.size === targetPorts.length) allHealthy();
  };

  const workers = Number(process.env.BENCH_LB_WORKERS ?? '1');
  const proxyOptions: ProxyOptions = {
    bindHost: '127.0.0.1',
    maxSocketsPerTarget: Number(required('BENCH_LB_MAX_SOCKETS')),
    targetIdleSocketMs: Number(required('BENCH_LB_IDLE_SOCKET_MS')),
    closeGraceMs: 1000,
  };
  const plane =
    workers > 1
      ? new ControlPlane({ logger, metrics, reportTargetHealth })
      : new DataPlane({ logger, metrics, reportTargetHealth, ...proxyOptions });
  const lbCluster =
    workers > 1
      ? new LbCluster(plane.live, {
          workers,
          logger,
          logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
          proxy: proxyOptions,
          exec: path.join(__dirname, '..', 'run.js'),
          args: [path.join(__dirname, '..', '..', '..', 'apps', 'lb', 'src', 'worker-main.ts')],
          stopTimeoutMs: 1000,
        })
      : undefined;
  plane.model.putResource(resource('load-balancer', loadBalancerSpec(LB, IDLE_TIMEOUT_S), 1));
  plane.model.putResource(
    resource(
      'target-group',
      targetGroupSpec(GROUP, {
        algorithm: 'round_robin',
        healthCheck: {
          path: '/health',
          port: 'traffic-port',
          intervalSeconds: healthIntervalS,
          timeoutSeconds: Math.min(5, healthIntervalS),
          healthyThresholdCount: 2,
          unhealthyThresholdCount: 2,
          matcher: { httpCode: '200' },
        },
      }),
      1,
    ),
  );
  // Registered as a service registers its tasks: initial until the lb's own checks pass.
  for (const p of targetPorts) plane.model.putTarget(target(GROUP, '127.0.0.1', p));
  plane.model.putResource(
    resource(
      'listener',
      {
        listenerArn: LISTENER,
        loadBalancerArn: LB,
        port,
        protocol: 'HTTP',
        defaultActions: [{ type: 'forward', targetGroupArn: GROUP }],
      },
      1,
    ),
  );
  if (plane instanceof DataPlane) {
    await plane.proxy.ready();
    if (!plane.proxy.openPorts().includes(port)) throw new Error(`listener port ${port} not open`);
  } else {
    await lbCluster!.start();
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= plane
      .stop()
      .then(() => lbCluster?.stop())
      .catch((err: unknown) => logger.error({ err }, 'data plane stop failed'))
      .finally(() => process.exit(0)));
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());

  const timer = setTimeout(() => {
    throw new Error(
      `targets not all healthy within ${READY_TIMEOUT_MS} ms (healthy: ${[...healthy].join(',') || 'none'})`,
    );
  }, READY_TIMEOUT_MS);
  await ready;
  clearTimeout(timer);
  process.send?.({ ready: true, pid: process.pid, workers: lbCluster?.pids() ?? [] });
}

main().catch((err: unknown) => {
  process.stderr.write(`lb-process failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
