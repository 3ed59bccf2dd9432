import type { stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { firstValueFrom } from 'rxjs';

/** The lease the service scheduler's leader holds (one per Wharf installation). */
export const SERVICE_SCHEDULER_LEASE = 'service-scheduler';

/**
 * Leadership of the service scheduler among scheduler replicas: a lease in Postgres (through
 * state) that the leader renews every third of its TTL. Expiry is judged by Postgres's clock,
 * so replicas' clocks need not agree. This replica counts itself leader only until a TTL less
 * a safety margin after its last successful renewal *started*: a leader that cannot renew (cut
 * off from state) stops acting before another replica can take the lease over.
 */
export class LeaderLease {
  private leaderUntil = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private wasLeader = false;

  constructor(
    private readonly state: stateV1.StateServiceClient,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly onLeadership: (leader: boolean) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  isLeader(): boolean {
    return this.now() < this.leaderUntil;
  }

  start(): void {
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.isLeader()) return;
    this.leaderUntil = 0;
    try {
      await firstValueFrom(
        this.state.releaseLease({ name: SERVICE_SCHEDULER_LEASE, holder: this.holder }),
      );
    } catch (err) {
      this.logger.warn({ err }, 'could not release the service scheduler lease');
    }
  }

  private async tick(): Promise<void> {
    const startedAt = this.now();
    try {
      const lease = await firstValueFrom(
        this.state.acquireLease({
          name: SERVICE_SCHEDULER_LEASE,
          holder: this.holder,
          ttlMs: this.ttlMs,
        }),
      );
      // A safety margin of a fifth of the TTL for the call's own latency and clock rates.
      this.leaderUntil = lease.held ? startedAt + Math.floor((this.ttlMs * 4) / 5) : 0;
    } catch (err) {
      this.logger.warn({ err }, 'could not renew the service scheduler lease');
    }
    const leader = this.isLeader();
    if (leader !== this.wasLeader) {
      this.wasLeader = leader;
      this.logger.info(
        { holder: this.holder },
        leader ? 'became service scheduler leader' : 'no longer service scheduler leader',
      );
      this.onLeadership(leader);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), Math.floor(this.ttlMs / 3));
  }
}
