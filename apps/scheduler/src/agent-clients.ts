import type { ChannelOptions } from '@grpc/grpc-js';
import { agentV1, createAgentClient, GrpcClient, isUnreachable } from '@wharf/proto';
import { firstValueFrom, Observable, timeout } from 'rxjs';

/**
 * Channel arguments for agent clients. An agent restarts on the same address; grpc-js's default
 * reconnect backoff (1 s growing to 120 s) would keep failing calls long after it is back. Each
 * client also gets its own subchannels: from grpc-js's shared pool, a replacement channel would
 * inherit the old one's subchannel, still backing off.
 */
export const AGENT_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
  'grpc.use_local_subchannel_pool': 1,
};

/** The first pause before retrying an unreachable agent; it doubles up to the largest. */
const FIRST_RETRY_MS = 100;
const LARGEST_RETRY_MS = 1_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A client unused this long is closed (hosts come and go; their addresses are not reused). */
export const AGENT_CLIENT_IDLE_MS = 10 * 60_000;

/**
 * One gRPC client per agent address, created on first use, closed once idle for
 * AGENT_CLIENT_IDLE_MS (looked for at most once a minute, on use) and on shutdown.
 */
export class AgentClients {
  private readonly clients = new Map<
    string,
    { grpc: GrpcClient<agentV1.AgentServiceClient>; usedAt: number }
  >();
  private sweptAt: number;

  constructor(
    private readonly idleMs = AGENT_CLIENT_IDLE_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.sweptAt = now();
  }

  get(address: string): agentV1.AgentServiceClient {
    const now = this.now();
    if (now - this.sweptAt >= Math.min(60_000, this.idleMs)) this.closeIdle(now);
    let entry = this.clients.get(address);
    if (!entry) {
      entry = { grpc: createAgentClient(address, AGENT_CHANNEL_OPTIONS), usedAt: now };
      this.clients.set(address, entry);
    }
    entry.usedAt = now;
    return entry.grpc.client;
  }

  /** How many clients are open (one per agent address in use). */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Calls the agent at `address`, giving up after `timeoutMs` in all. While the agent is
   * unreachable (UNAVAILABLE: not listening, or restarted while this client's channel backs off)
   * the cached client is replaced by a fresh one, which connects at once, and the call is made
   * again after a short pause (100 ms, 200 ms, … up to 1 s) until the time is up. Any other
   * error (the agent refused the command, or did not answer in time) is not retried. Agent
   * commands are idempotent by task ARN, so a call that did arrive once is harmless twice.
   */
  async call<T>(
    address: string,
    invoke: (client: agentV1.AgentServiceClient) => Observable<T>,
    timeoutMs: number,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let pause = FIRST_RETRY_MS;
    for (;;) {
      const client = this.get(address);
      try {
        return await firstValueFrom(
          invoke(client).pipe(timeout({ first: Math.max(1, deadline - Date.now()) })),
        );
      } catch (err) {
        if (!isUnreachable(err)) throw err;
        this.discard(address, client);
        if (Date.now() + pause >= deadline) throw err;
        await sleep(pause);
        pause = Math.min(pause * 2, LARGEST_RETRY_MS);
      }
    }
  }

  /** Closes the cached client for `address` if it is still `client` (not already replaced). */
  private discard(address: string, client: agentV1.AgentServiceClient): void {
    const cached = this.clients.get(address);
    if (cached?.grpc.client !== client) return;
    this.clients.delete(address);
    cached.grpc.close();
  }

  private closeIdle(now: number): void {
    this.sweptAt = now;
    for (const [address, entry] of this.clients) {
      if (now - entry.usedAt < this.idleMs) continue;
      this.clients.delete(address);
      entry.grpc.close();
    }
  }

  closeAll(): void {
    for (const c of this.clients.values()) c.grpc.close();
    this.clients.clear();
  }
}
