import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GrpcOptions } from '@nestjs/microservices';
import { Transport } from '@nestjs/microservices';
import { MAX_MESSAGE_BYTES } from './limits';
import { grpcServerCredentials, grpcTlsFromEnv, type GrpcTls } from './tls';

export * as common from './generated/wharf/common/v1/common';
export * as stateV1 from './generated/wharf/state/v1/state';
export * as schedulerV1 from './generated/wharf/scheduler/v1/scheduler';
export * as agentV1 from './generated/wharf/agent/v1/agent';

/**
 * proto-loader options that match the ts-proto options in buf.gen.yaml:
 * camelCase fields (keepCase false), int64 as JS numbers (forceLong=number),
 * enums as strings (stringEnums), defaults filled in (ts-proto types are not optional).
 */
export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
  includeDirs: [] as string[],
};

/** Finds the repository's (or image's) `proto/` folder from wherever this file was compiled to. */
export function protoRoot(): string {
  const fromEnv = process.env.WHARF_PROTO_DIR;
  if (fromEnv) return fromEnv;
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'wharf', 'state', 'v1', 'state.proto'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the proto/ folder above ${__dirname}; set WHARF_PROTO_DIR`);
}

export type WharfGrpcService = 'state' | 'scheduler' | 'agent';

const PACKAGES: Record<WharfGrpcService, string> = {
  state: 'wharf.state.v1',
  scheduler: 'wharf.scheduler.v1',
  agent: 'wharf.agent.v1',
};

/**
 * gRPC transport options for serving one of Wharf's services (clients: `createGrpcClient`).
 * `tls` defaults to the GRPC_TLS_* environment (see tls.ts): with it the server requires
 * mutual TLS; null serves plaintext.
 */
export function grpcOptions(
  service: WharfGrpcService,
  url: string,
  tls: GrpcTls | null = grpcTlsFromEnv(),
): GrpcOptions {
  const root = protoRoot();
  return {
    transport: Transport.GRPC,
    options: {
      url,
      package: PACKAGES[service],
      protoPath: join(root, 'wharf', service, 'v1', `${service}.proto`),
      loader: { ...PROTO_LOADER_OPTIONS, includeDirs: [root] },
      keepalive: { keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 5_000 },
      maxReceiveMessageLength: MAX_MESSAGE_BYTES,
      gracefulShutdown: true,
      ...(tls ? { credentials: grpcServerCredentials(tls) } : {}),
    },
  } as GrpcOptions;
}

export * from './clients';
export * from './limits';
export * from './tls';
export * from './grpc-exception.filter';
export * from './agent-commands';
