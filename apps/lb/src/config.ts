import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { commonEnv, env, z } from '@wharf/config';

/**
 * The CPUs this process may use: node's count (CPU affinity), capped by a cgroup v2 CPU
 * quota when there is one (`docker run --cpus 2` on a bigger host), which node ignores.
 */
export function usableCpus(): number {
  const cpus = availableParallelism();
  try {
    const [quota, period] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    if (quota === 'max') return cpus;
    const allowed = Math.ceil(Number(quota) / Number(period));
    return Number.isFinite(allowed) && allowed >= 1 ? Math.min(cpus, allowed) : cpus;
  } catch {
    return cpus;
  }
}

export const lbConfigSchema = z.object({
  ...commonEnv,
  STATE_URL: env.string('127.0.0.1:4701'),
  NATS_URL: env.string('nats://127.0.0.1:4222'),
  LB_OPS_PORT: env.port(4704),
  /** the address every listener binds */
  LB_BIND_HOST: env.string('0.0.0.0'),
  /** a full read of state's load balancer resources and targets this often (events between) */
  LB_RESYNC_MS: env.int(30_000, 1000),
  /** at most this many connections from this lb to one target */
  LB_TARGET_MAX_SOCKETS: env.int(256, 1),
  /** an idle pooled connection to a target is closed after this long (keep it below the targets' keep-alive) */
  LB_TARGET_IDLE_SOCKET_MS: env.int(4000, 100),
  /**
   * processes serving the listeners (node:cluster workers sharing each port); 1 = one process
   * does everything, as before. Default: the number of CPUs (within the cgroup CPU quota).
   */
  LB_WORKERS: env.int(usableCpus(), 1),
  /** adds `x-wharf-lb-worker: <pid>` to responses (which process served it), for debugging */
  LB_DEBUG_HEADERS: env.bool(false),
  /**
   * true: node's HTTP server and http.request serve every request, instead of the lb's own
   * fast path for requests without a body (fast-connection.ts, upstream-pool.ts); a way
   * out, and for comparison
   */
  LB_NODE_HTTP: env.bool(false),
});

export type LbConfig = z.infer<typeof lbConfigSchema>;
