import { GenericContainer, StartedNetwork, StartedTestContainer, Wait } from 'testcontainers';

/** Images built by deploy/build-images.sh (`npm test` builds them first). */
export const IMAGES = {
  postgres: process.env.WHARF_POSTGRES_IMAGE ?? 'wharf/postgres:dev',
  nats: process.env.WHARF_NATS_IMAGE ?? 'wharf/nats:dev',
  services: process.env.WHARF_SERVICES_IMAGE ?? 'wharf/services:dev',
  host: process.env.WHARF_HOST_IMAGE ?? 'wharf/host:dev',
  workload: process.env.WHARF_WORKLOAD_IMAGE ?? 'wharf/busybox:dev',
};

export interface StartedPostgres {
  container: StartedTestContainer;
  /** URL reachable from the test process. */
  url: string;
  /** URL reachable from containers on the network, when one was given. */
  networkUrl?: string;
}

export async function startPostgres(
  network?: StartedNetwork,
  alias = 'postgres',
  /** More server settings (`-c name=value`), e.g. to load pg_stat_statements. */
  settings: Record<string, string> = {},
): Promise<StartedPostgres> {
  let builder = new GenericContainer(IMAGES.postgres)
    .withEnvironment({
      POSTGRES_USER: 'wharf',
      POSTGRES_PASSWORD: 'wharf',
      POSTGRES_DB: 'wharf',
      POSTGRES_FSYNC: 'off',
      POSTGRES_SETTINGS: Object.entries(settings)
        .map(([name, value]) => `${name}=${value}`)
        .join(' '),
    })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/))
    .withStartupTimeout(120_000);
  if (network) builder = builder.withNetwork(network).withNetworkAliases(alias);
  const container = await builder.start();
  const url = `postgres://wharf:wharf@${container.getHost()}:${container.getMappedPort(5432)}/wharf`;
  return {
    container,
    url,
    networkUrl: network ? `postgres://wharf:wharf@${alias}:5432/wharf` : undefined,
  };
}

export interface StartedNats {
  container: StartedTestContainer;
  url: string;
  networkUrl?: string;
}

/** `serverArgs`: more nats-server options, e.g. `['--user', 'u', '--pass', 'p']`. */
export async function startNats(
  network?: StartedNetwork,
  alias = 'nats',
  serverArgs: string[] = [],
): Promise<StartedNats> {
  let builder = new GenericContainer(IMAGES.nats)
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .withStartupTimeout(60_000);
  if (network) builder = builder.withNetwork(network).withNetworkAliases(alias);
  if (serverArgs.length) {
    builder = builder.withCommand([
      '--jetstream',
      '--store_dir',
      '/data',
      '--http_port',
      '8222',
      ...serverArgs,
    ]);
  }
  const container = await builder.start();
  return {
    container,
    url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`,
    networkUrl: network ? `nats://${alias}:4222` : undefined,
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      // A probe that never settles (a fetch to a port that accepts but never answers) must
      // not outlive the deadline.
      const remaining = Math.max(deadline - Date.now(), intervalMs);
      let timer: NodeJS.Timeout | undefined;
      const value = await Promise.race([
        probe(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('probe did not settle')), remaining);
        }),
      ]).finally(() => clearTimeout(timer));
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
