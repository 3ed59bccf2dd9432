import type { ChannelOptions } from '@grpc/grpc-js';
import { ClientGrpcProxy } from '@nestjs/microservices';
import { grpcOptions, WharfGrpcService } from './index';
import { MAX_MESSAGE_BYTES } from './limits';
import { grpcChannelCredentials, grpcTlsChannelOptions, grpcTlsFromEnv, type GrpcTls } from './tls';
import type { StateServiceClient } from './generated/wharf/state/v1/state';
import type { SchedulerServiceClient } from './generated/wharf/scheduler/v1/scheduler';
import type { AgentServiceClient } from './generated/wharf/agent/v1/agent';

const SERVICE_NAMES: Record<WharfGrpcService, string> = {
  state: 'StateService',
  scheduler: 'SchedulerService',
  agent: 'AgentService',
};

export interface GrpcClient<T> {
  /** Observable-returning stub; use `firstValueFrom(client.method(req))`. */
  client: T;
  close(): void;
}

/** A client on one channel (createGrpcClient's), which also gives the channel's own client. */
export interface GrpcChannelClient<T> extends GrpcClient<T> {
  /**
   * The @grpc/grpc-js client under `client` (same channel), for what the stub does not give:
   * a long-lived bidirectional stream written message by message. Its methods are named as in
   * the .proto (`StartTasks`) and take and give the stub's (camelCase) objects.
   */
  raw(): GrpcRawClient;
}

/** A @grpc/grpc-js client as `@grpc/grpc-js`'s `makeClientConstructor` builds it. */
export type GrpcRawClient = Record<string, (...args: unknown[]) => unknown>;

/**
 * Channel arguments of every Wharf client. How soon a client tries again to reach a service
 * that went away: grpc-js's defaults (1 s, growing to 2 min) would keep a client failing for
 * up to two minutes after a restarted state or scheduler is back; Wharf's services are few, so
 * trying every few seconds costs nothing. And the largest answer taken: MAX_MESSAGE_BYTES.
 */
const CLIENT_DEFAULTS: ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 5_000,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
};

/**
 * A typed client for one of Wharf's gRPC services at `url` (`host:port`); `channelOptions`
 * (grpc-js channel arguments) are added to the defaults (CLIENT_DEFAULTS among them). `tls`
 * defaults to the GRPC_TLS_* environment (see tls.ts): with it the client speaks mutual TLS;
 * null is plaintext.
 */
export function createGrpcClient<T extends object>(
  service: WharfGrpcService,
  url: string,
  channelOptions?: ChannelOptions,
  tls: GrpcTls | null = grpcTlsFromEnv(),
): GrpcChannelClient<T> {
  const { options } = grpcOptions(service, url, null);
  const allChannelOptions = {
    ...CLIENT_DEFAULTS,
    ...grpcTlsChannelOptions(tls, service),
    ...channelOptions,
  };
  const proxy = new ClientGrpcProxy({
    ...options,
    credentials: grpcChannelCredentials(tls),
    ...(Object.keys(allChannelOptions).length ? { channelOptions: allChannelOptions } : {}),
  });
  return {
    client: proxy.getService<T>(SERVICE_NAMES[service]),
    raw: () => proxy.getClientByServiceName<GrpcRawClient>(SERVICE_NAMES[service]),
    close: () => proxy.close(),
  };
}

export const createStateClient = (url: string, tls?: GrpcTls | null) =>
  createGrpcClient<StateServiceClient>('state', url, undefined, tls);
export const createSchedulerClient = (url: string, tls?: GrpcTls | null) =>
  createGrpcClient<SchedulerServiceClient>('scheduler', url, undefined, tls);
export const createAgentClient = (
  url: string,
  channelOptions?: ChannelOptions,
  tls?: GrpcTls | null,
) => createGrpcClient<AgentServiceClient>('agent', url, channelOptions, tls);
