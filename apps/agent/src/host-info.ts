import { createServer } from 'node:net';
import os from 'node:os';
import type { common } from '@wharf/proto';
import type { AgentConfig } from './config';

export const AGENT_VERSION = '0.1.0';

/** ECS's names for Node's architectures. */
export function cpuArchitecture(arch: string = os.arch()): string {
  if (arch === 'x64') return 'x86_64';
  if (arch === 'arm64') return 'arm64';
  return arch;
}

/** CPU (1024 units per core), MEMORY (MiB less the reserve) and the reserved ports. */
export function hostResources(
  config: Pick<
    AgentConfig,
    'AGENT_CPU' | 'AGENT_MEMORY' | 'AGENT_RESERVED_MEMORY' | 'AGENT_RESERVED_PORTS'
  >,
  host: { cpus: number; totalMemBytes: number } = {
    cpus: os.cpus().length,
    totalMemBytes: os.totalmem(),
  },
): common.Resources {
  const memory =
    config.AGENT_MEMORY ??
    Math.max(0, Math.floor(host.totalMemBytes / (1024 * 1024)) - config.AGENT_RESERVED_MEMORY);
  return {
    cpu: config.AGENT_CPU ?? host.cpus * 1024,
    memory,
    ports: [...config.AGENT_RESERVED_PORTS],
    portsUdp: [],
  };
}

/** Built-in ECS-style attributes, then the configured ones (which win on a clash). */
export function instanceAttributes(
  configured: { name: string; value: string }[],
  arch: string = cpuArchitecture(),
): common.Attribute[] {
  const byName = new Map<string, string>([
    ['ecs.os-type', 'linux'],
    ['ecs.os-family', 'LINUX'],
    ['ecs.cpu-architecture', arch],
    ['ecs.capability.docker-remote-api.1.17', ''],
    ['ecs.capability.docker-remote-api.1.18', ''],
    ['ecs.capability.docker-remote-api.1.19', ''],
    ['ecs.capability.docker-remote-api.1.25', ''],
    ['ecs.capability.container-health-check', ''],
    ['ecs.capability.container-ordering', ''],
    ['ecs.capability.task-cpu-mem-limit', ''],
  ]);
  for (const a of configured) byName.set(a.name, a.value);
  return [...byName].map(([name, value]) => ({ name, value }));
}

/** The first non-internal IPv4 address, or loopback on a host without one. */
export function defaultHostAddress(
  interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces(),
): string {
  for (const addrs of Object.values(interfaces)) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}

/** `port`, or a free one when it is 0. */
export async function resolvePort(port: number): Promise<number> {
  if (port !== 0) return port;
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const address = server.address();
      const free = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(free));
    });
  });
}
