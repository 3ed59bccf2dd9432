import type { JetStreamPublish } from '@wharf/messaging';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { ADVISORY_LOCKS, inTransaction } from './db';
import type { OutboxRepository } from './outbox.repository';

const BATCH = 256;
const PRUNE_EVERY_MS = 60_000;

/**
 * Publishes the outbox to JetStream in id order, msgID = outbox id (JetStream drops a
 * re-publish within the stream's duplicate window). Across replicas only the holder of a
 * transaction-scoped advisory lock publishes; the others skip the tick.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastPrune = 0;
  private readonly published: Counter;

  constructor(
    private readonly pool: Pool,
    private readonly publisher: JetStreamPublish,
    private readonly outbox: OutboxRepository,
    private readonly logger: Logger,
    registry: Registry,
    /**
     * published rows older than this are deleted (OUTBOX_RETENTION_MS); 0: deleted as they are
     * published
     */
    private readonly retentionMs: number,
    private readonly intervalMs = 150,
    /** published rows deleted by one statement at most */
    private readonly pruneBatch = 10_000,
  ) {
    this.published = new Counter({
      name: 'wharf_state_outbox_published_total',
      help: "Outbox messages (an event, or a batch of one statement's events) published to JetStream",
      registers: [registry],
    });
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops the loop after a last flush, so events of the final writes still go out. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
    await this.flush().catch((err: unknown) =>
      this.logger.warn({ err }, 'final outbox flush failed'),
    );
  }

  /** Publishes what is pending now; returns how many events went out. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.publishBatch();
      total += n;
      if (n < BATCH) return total;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.flush()
        .then(() => undefined)
        .catch((err: unknown) => this.logger.error({ err }, 'outbox relay failed; retrying'))
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
  }

  private publishBatch(): Promise<number> {
    return inTransaction(this.pool, async (tx) => {
      const { rows } = await tx.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [ADVISORY_LOCKS.outboxRelay],
      );
      if (!rows[0].locked) return 0;
      if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
        const pruned = await this.outbox.prunePublished(tx, this.retentionMs, this.pruneBatch);
        // A full batch: there is more to delete, and the next tick goes on with it.
        if (pruned < this.pruneBatch) this.lastPrune = Date.now();
      }
      const pending = await this.outbox.unpublished(tx, BATCH);
      // All of the batch goes out at once, in id order: the client writes them to the socket
      // together and JetStream stores them in the order they arrive on the connection. One
      // publish awaited after the other would cost a write and a round trip each.
      const outcomes = await Promise.allSettled(
        pending.map((row) =>
          this.publisher.publish(row.subject, Buffer.from(row.payload, 'utf8'), { msgID: row.id }),
        ),
      );
      // Only the prefix before the first failure counts as published; the rest is sent again
      // next tick (what did arrive is then dropped by JetStream as a duplicate msgID).
      const done: string[] = [];
      let failure: unknown;
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status === 'rejected') {
          failure = outcome.reason;
          break;
        }
        done.push(pending[i].id);
      }
      if (done.length) {
        // Kept for inspection when a retention is set; otherwise gone with this transaction.
        if (this.retentionMs > 0) await this.outbox.markPublished(tx, done);
        else await this.outbox.deletePublished(tx, done);
      }
      this.published.inc(done.length);
      if (failure) {
        this.logger.warn(
          { err: failure, published: done.length },
          'outbox publish failed; will retry',
        );
        return 0;
      }
      return done.length;
    });
  }
}
