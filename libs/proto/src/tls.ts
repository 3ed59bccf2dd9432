import { readFileSync } from 'node:fs';
import { credentials, ServerCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { ConfigError } from '@wharf/config';
import type { WharfGrpcService } from './index';

/**
 * Mutual TLS for Wharf's internal gRPC (state, scheduler, agent and their clients: api, lb,
 * `wharf admin`). Every process reads the same variables:
 *
 *   GRPC_TLS_CA           PEM file of the CA that signed every Wharf certificate
 *   GRPC_TLS_CERT         PEM file of this process's certificate (server and client)
 *   GRPC_TLS_KEY          PEM file of its private key
 *   GRPC_TLS_AGENT_NAME   optional, for the scheduler and api: the name agents' certificates
 *                         are checked against instead of the address dialled (agents
 *                         advertise addresses no certificate may name, e.g. a dynamic IP);
 *                         `agent` with the certificates of scripts/make-certs.sh
 *
 * All three files or none: with none, gRPC is plaintext as before. With them, servers accept
 * only clients presenting a certificate signed by the CA, and clients accept only servers whose
 * certificate is signed by it and names the host dialled (for agents: or GRPC_TLS_AGENT_NAME).
 */
export interface GrpcTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** Overrides the name an agent's certificate is checked against (not other services'). */
  agentName?: string;
}

export const GRPC_TLS_VARIABLES = ['GRPC_TLS_CA', 'GRPC_TLS_CERT', 'GRPC_TLS_KEY'] as const;

const cache = new Map<string, GrpcTls | null>();

/**
 * The TLS settings in `env`, or null for plaintext. A partial set, an unreadable file or a
 * file that is not PEM is a ConfigError naming the variable. Files are read once per process
 * (a new certificate takes a restart).
 */
export function grpcTlsFromEnv(env: NodeJS.ProcessEnv = process.env): GrpcTls | null {
  const paths = GRPC_TLS_VARIABLES.map((name) => env[name]?.trim() ?? '');
  const agentName = env.GRPC_TLS_AGENT_NAME?.trim() || undefined;
  const cacheKey = JSON.stringify([...paths, agentName]);
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;

  let tls: GrpcTls | null = null;
  if (paths.some(Boolean)) {
    const missing = GRPC_TLS_VARIABLES.filter((_, i) => !paths[i]);
    if (missing.length) {
      const set = GRPC_TLS_VARIABLES.filter((_, i) => paths[i]);
      throw new ConfigError(
        `invalid configuration:\n  ${missing.join(', ')} (unset): gRPC TLS needs GRPC_TLS_CA, ` +
          `GRPC_TLS_CERT and GRPC_TLS_KEY together, but only ${set.join(', ')} is set ` +
          `(scripts/make-certs.sh makes the files)`,
      );
    }
    const [ca, cert, key] = GRPC_TLS_VARIABLES.map((name, i) => readPem(name, paths[i]));
    tls = { ca, cert, key, agentName };
  } else if (agentName) {
    throw new ConfigError(
      `invalid configuration:\n  GRPC_TLS_AGENT_NAME (${JSON.stringify(agentName)}): ` +
        'only means something with GRPC_TLS_CA, GRPC_TLS_CERT and GRPC_TLS_KEY',
    );
  }
  cache.set(cacheKey, tls);
  return tls;
}

function readPem(variable: string, path: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      `invalid configuration:\n  ${variable} (${JSON.stringify(path)}): cannot read the file ` +
        `(${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (!content.toString('utf8').includes('-----BEGIN ')) {
    throw new ConfigError(
      `invalid configuration:\n  ${variable} (${JSON.stringify(path)}): not a PEM file`,
    );
  }
  return content;
}

/** Server credentials: TLS that requires a client certificate signed by the CA. */
export function grpcServerCredentials(tls: GrpcTls | null): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.ca,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    true,
  );
}

/** Client credentials: TLS trusting only the CA, presenting this process's certificate. */
export function grpcChannelCredentials(tls: GrpcTls | null): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(tls.ca, tls.key, tls.cert);
}

/** Channel options a client of `service` needs for `tls`: the agent name override, if any. */
export function grpcTlsChannelOptions(
  tls: GrpcTls | null,
  service: WharfGrpcService,
): ChannelOptions {
  if (service !== 'agent' || !tls?.agentName) return {};
  return {
    'grpc.ssl_target_name_override': tls.agentName,
    'grpc.default_authority': tls.agentName,
  };
}
