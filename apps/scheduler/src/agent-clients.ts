import type { ChannelOptions } from '@grpc/grpc-js';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { GrpcCode } from '@wharf/domain';
import { agentV1, createAgentClient, GrpcChannelClient, isUnreachable } from '@wharf/proto';
import { firstValueFrom, Observable, timeout } from 'rxjs';
import { AgentCommandError, StartTaskStream } from './start-task-stream';

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

/** What is kept for one agent address. */
interface AgentEntry {
  grpc: GrpcChannelClient<agentV1.AgentServiceClient>;
  usedAt: number;
  /** StartTasks on the entry's channel, opened on the first start. */
  starts?: StartTaskStream;
  /** The agent answered StartTasks with UNIMPLEMENTED (it predates it): StartTask per task. */
  unaryStarts: boolean;
}

/**
 * One gRPC client per agent address, created on first use, closed once idle for
 * AGENT_CLIENT_IDLE_MS (looked for at most once a minute, on use) and on shutdown. Tasks are
 * started over one StartTasks stream per agent (see StartTaskStream), other commands with a
 * call each.
 */
export class AgentClients {
  private readonly clients = new Map<string, AgentEntry>();
  private sweptAt: number;

  constructor(
    private readonly idleMs = AGENT_CLIENT_IDLE_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.sweptAt = now();
  }

  get(address: string): agentV1.AgentServiceClient {
    return this.entry(address).grpc.client;
  }

  private entry(address: string): AgentEntry {
    const now = this.now();
    if (now - this.sweptAt >= Math.min(60_000, this.idleMs)) this.closeIdle(now);
    let entry = this.clients.get(address);
    if (!entry) {
      entry = {
        grpc: createAgentClient(address, AGENT_CHANNEL_OPTIONS),
        usedAt: now,
        unaryStarts: false,
      };
      this.clients.set(address, entry);
    }
    entry.usedAt = now;
    return entry;
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
  call<T>(
    address: string,
    invoke: (client: agentV1.AgentServiceClient) => Observable<T>,
    timeoutMs: number,
  ): Promise<T> {
    return this.retrying(address, timeoutMs, (entry, ms) =>
      firstValueFrom(invoke(entry.grpc.client).pipe(timeout({ first: ms }))),
    );
  }

  /**
   * StartTask on the agent at `address`, over its StartTasks stream, retried as `call` is. An
   * agent that does not know StartTasks (UNIMPLEMENTED) is sent StartTask calls from then on.
   */
  startTask(
    address: string,
    request: agentV1.StartTaskRequest,
    timeoutMs: number,
  ): Promise<agentV1.StartTaskResponse> {
    return this.retrying(address, timeoutMs, async (entry, ms) => {
      if (!entry.unaryStarts) {
        try {
          return await (entry.starts ??= this.startStream(entry)).startTask(request, ms);
        } catch (err) {
          if (!(err instanceof AgentCommandError) || err.code !== GrpcCode.UNIMPLEMENTED) throw err;
          entry.unaryStarts = true;
        }
      }
      return firstValueFrom(entry.grpc.client.startTask(request).pipe(timeout({ first: ms })));
    });
  }

  private startStream(entry: AgentEntry): StartTaskStream {
    return new StartTaskStream(
      () =>
        entry.grpc.raw().StartTasks() as ClientDuplexStream<
          agentV1.StartTaskRequest,
          agentV1.StartTaskResult
        >,
    );
  }

  private async retrying<T>(
    address: string,
    timeoutMs: number,
    attempt: (entry: AgentEntry, remainingMs: number) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let pause = FIRST_RETRY_MS;
    for (;;) {
      const entry = this.entry(address);
      try {
        return await attempt(entry, Math.max(1, deadline - Date.now()));
      } catch (err) {
        if (!isUnreachable(err)) throw err;
        this.discard(address, entry);
        if (Date.now() + pause >= deadline) throw err;
        await sleep(pause);
        pause = Math.min(pause * 2, LARGEST_RETRY_MS);
      }
    }
  }

  /**
   * Closes the cached client for `address` if it is still `entry` (not already replaced). Starts
   * still waiting on its stream fail as UNAVAILABLE, so they are sent again on the new one.
   */
  private discard(address: string, entry: AgentEntry): void {
    if (this.clients.get(address) !== entry) return;
    this.clients.delete(address);
    close(
      entry,
      new AgentCommandError(GrpcCode.UNAVAILABLE, 'the connection to the agent was replaced'),
    );
  }

  private closeIdle(now: number): void {
    this.sweptAt = now;
    for (const [address, entry] of this.clients) {
      if (now - entry.usedAt < this.idleMs) continue;
      this.clients.delete(address);
      close(entry);
    }
  }

  closeAll(): void {
    for (const entry of this.clients.values()) close(entry);
    this.clients.clear();
  }
}

function close(entry: AgentEntry, err?: AgentCommandError): void {
  entry.starts?.close(err);
  entry.grpc.close();
}
