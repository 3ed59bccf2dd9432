import type { ChannelOptions } from '@grpc/grpc-js';
import { ClientGrpcProxy } from '@nestjs/microservices';
import { grpcOptions, WharfGrpcService } from './index';
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

/**
 * A typed client for one of Wharf's gRPC services at `url` (`host:port`); `channelOptions`
 * (grpc-js channel arguments) are added to the defaults.
 */
export function createGrpcClient<T extends object>(
  service: WharfGrpcService,
  url: string,
  channelOptions?: ChannelOptions,
): GrpcClient<T> {
  const { options } = grpcOptions(service, url);
  const proxy = new ClientGrpcProxy(
    channelOptions ? { ...options, channelOptions: { ...channelOptions } } : options,
  );
  return {
    client: proxy.getService<T>(SERVICE_NAMES[service]),
    close: () => proxy.close(),
  };
}

export const createStateClient = (url: string) =>
  createGrpcClient<StateServiceClient>('state', url);
export const createSchedulerClient = (url: string) =>
  createGrpcClient<SchedulerServiceClient>('scheduler', url);
export const createAgentClient = (url: string, channelOptions?: ChannelOptions) =>
  createGrpcClient<AgentServiceClient>('agent', url, channelOptions);
