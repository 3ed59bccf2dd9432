import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, type ConsumerMessages, DeliverPolicy } from '@nats-io/jetstream';
import { decodeEvents, ELB_EVENT_SCOPE, STREAMS, type WharfEvent } from '@wharf/messaging';
import type { Logger } from '@wharf/observability';
import type { LbMetrics } from './lb-metrics';
import type { LbModel, LbResourceMessage, LbTargetMessage } from './lb-model';

/** The `_elb` event types (`wharf.events._elb.<entity>.<event>`, type `<entity>.<event>`). */
export const ELB_EVENT_TYPES = {
  resourceChanged: 'lb_resource.changed',
  resourceDeleted: 'lb_resource.deleted',
  targetChanged: 'target.changed',
  targetDeleted: 'target.deleted',
} as const;

/**
 * Applies one `_elb` event to the model; other events are ignored. Returns what became of
 * it, for metrics: applied, stale (dropped by version) or ignored.
 */
export function applyElbEvent(model: LbModel, event: WharfEvent): 'applied' | 'stale' | 'ignored' {
  if (event.cluster !== ELB_EVENT_SCOPE) return 'ignored';
  const ok = (applied: boolean) => (applied ? 'applied' : 'stale');
  switch (event.type) {
    case ELB_EVENT_TYPES.resourceChanged:
      return ok(model.putResource(event.detail as LbResourceMessage));
    case ELB_EVENT_TYPES.resourceDeleted:
      return ok(model.deleteResource(event.detail as LbResourceMessage));
    case ELB_EVENT_TYPES.targetChanged:
      return ok(model.putTarget(event.detail as LbTargetMessage));
    case ELB_EVENT_TYPES.targetDeleted:
      return ok(model.deleteTarget(event.detail as LbTargetMessage));
    default:
      return 'ignored';
  }
}

/**
 * Follows load balancer resource and target events from the events stream into the model.
 * An ordered, ephemeral consumer from now on: the model is (re)built from state by the full
 * reads, and events only keep it current between them.
 */
export class ElbEventWatcher {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;

  constructor(
    private readonly nats: NatsConnection,
    private readonly model: LbModel,
    private readonly metrics: LbMetrics,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const js = jetstream(this.nats);
    const consumer = await js.consumers.get(STREAMS.events.name, {
      deliver_policy: DeliverPolicy.New,
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    this.loop = (async () => {
      for await (const msg of messages) {
        try {
          for (const event of decodeEvents(msg.data)) {
            const outcome = applyElbEvent(this.model, event);
            if (outcome === 'ignored') break; // a message's events share their subject
            this.metrics.configApplies.labels('event', outcome).inc();
            this.logger.debug(
              { type: event.type, arn: event.resourceArn, version: event.version, outcome },
              'elb event',
            );
          }
        } catch (err) {
          this.logger.warn(
            { err, subject: msg.subject },
            'undecodable or unappliable event skipped',
          );
        }
      }
    })().catch((err: unknown) =>
      // The consumer can give up (NATS away for long, the connection closed): without this the
      // rejection would end the process.
      this.logger.error(
        { err },
        'ELB event consumer stopped; the periodic resync from state keeps the configuration current',
      ),
    );
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }
}
