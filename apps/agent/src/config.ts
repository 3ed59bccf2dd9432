import { commonEnv, env, z } from '@wharf/config';
import { parseJoinToken } from '@wharf/domain';

/** `name=value,name2=value2` → attributes; a malformed entry is a configuration error. */
export const attributeList = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    const out: { name: string; value: string }[] = [];
    for (const part of raw.split(',')) {
      const item = part.trim();
      if (!item) continue;
      const eq = item.indexOf('=');
      const name = (eq < 0 ? item : item.slice(0, eq)).trim();
      if (!/^[A-Za-z0-9_.\-:/]{1,128}$/.test(name)) {
        ctx.addIssue({ code: 'custom', message: `bad attribute name in "${item}"` });
        return z.NEVER;
      }
      out.push({ name, value: eq < 0 ? '' : item.slice(eq + 1).trim() });
    }
    return out;
  });

const portList = z
  .string()
  .default('22,2375,2376,51678,51679')
  .transform((raw, ctx) => {
    const ports = raw
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map(Number);
    if (ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of ports' });
      return z.NEVER;
    }
    return [...new Set(ports)];
  });

const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
  .optional();

export const agentConfigSchema = z.object({
  ...commonEnv,
  STATE_URL: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
    .default('127.0.0.1:4701'),
  NATS_URL: env.url('nats://127.0.0.1:4222'),
  WHARF_CLUSTER: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a cluster name')
    .default('default'),
  /**
   * The join token state asks for when it registers this host (`wharf admin join-token
   * create --cluster …` makes one). Optional only where state runs with STATE_AGENT_JOIN=open.
   */
  WHARF_JOIN_TOKEN: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const token = raw?.trim();
      if (!token) return undefined;
      if (!parseJoinToken(token)) {
        // Never echo the value: it is a secret, and loadConfig shows bad values.
        ctx.addIssue({
          code: 'custom',
          message:
            'is not a join token (wjt_<16 characters>_<32 characters>, from `wharf admin join-token create`)',
        });
        return z.NEVER;
      }
      return token;
    }),
  /** 0 picks a free port. */
  AGENT_GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(4703),
  AGENT_OPS_PORT: z.coerce.number().int().min(0).max(65535).default(4713),
  /** host:port the scheduler dials; defaults to `<hostname>:<grpc port>`. */
  AGENT_ADVERTISE_ADDRESS: hostPort,
  /** Where published host ports are reachable; defaults to the first non-internal IPv4. */
  AGENT_HOST_ADDRESS: z.string().min(1).optional(),
  AGENT_CPU: env.optionalInt(1),
  AGENT_MEMORY: env.optionalInt(1),
  AGENT_RESERVED_MEMORY: env.int(0, 0),
  AGENT_ATTRIBUTES: attributeList,
  AGENT_DATA_DIR: env.string('/var/lib/wharf-agent'),
  DOCKER_SOCKET: env.string('/var/run/docker.sock'),
  /**
   * How often the agent says it is alive. State counts it gone after AGENT_HEARTBEAT_TTL_MS
   * (6 s: three missed beats), and a lost host's service tasks are replaced after that.
   */
  AGENT_HEARTBEAT_INTERVAL_MS: env.int(2000, 100),
  /** How often utilisation (engine stats of the task containers) is reported; 0 turns it off. */
  AGENT_STATS_INTERVAL_MS: env.int(5000, 0),
  AGENT_RESERVED_PORTS: portList,
  AGENT_STOP_TIMEOUT_S: env.int(30, 0),
  /** ECS_IMAGE_PULL_BEHAVIOR's values; `default` pulls only a missing image. */
  AGENT_IMAGE_PULL_BEHAVIOR: z
    .enum(['default', 'always', 'once', 'prefer-cached'])
    .default('default'),
  /** How long a stopped task's containers are kept before removal (ECS: 3 h). */
  AGENT_TASK_CLEANUP_WAIT_MS: env.int(10 * 60 * 1000, 0),
  /**
   * A task accepted is reported PENDING only if it is still starting this long after (0: at
   * once): a start from cached images is RUNNING sooner, and is reported once, RUNNING.
   */
  AGENT_PENDING_REPORT_DELAY_MS: env.int(1000, 0),
  /**
   * How often the agent asks the cluster whether any of its running tasks should be stopped
   * (a StopTask that could not reach it); 0 turns it off.
   */
  AGENT_DESIRED_STATUS_CHECK_MS: env.int(15_000, 0),
  /** Without it, a container definition with `privileged: true` fails its task. */
  AGENT_ALLOW_PRIVILEGED: env.bool(false),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;
