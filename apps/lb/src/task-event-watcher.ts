import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, type ConsumerMessages, DeliverPolicy } from '@nats-io/jetstream';
import { decodeEvents, STREAMS } from '@wharf/messaging';
import type { Logger } from '@wharf/observability';
import { Counter, type Registry } from 'prom-client';

/**
 * Follows the task events state publishes. The load balancer's targets follow a service's
 * RUNNING tasks; until target groups exist this keeps the count of what it has seen, which
 * shows the event path from state's outbox to the lb works.
 */
export class TaskEventWatcher {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private readonly seen = new Counter({
    name: 'wharf_lb_task_events_total',
    help: 'Task events received from state',
    labelNames: ['type'],
    registers: [],
  });

  constructor(
    private readonly nats: NatsConnection,
    private readonly logger: Logger,
  ) {}

  registerMetrics(registry: Registry): void {
    registry.registerMetric(this.seen);
  }

  async start(): Promise<void> {
    const js = jetstream(this.nats);
    // An ordered, ephemeral consumer over the whole events stream (whose subjects are
    // subjects.allEvents()): the lb rebuilds its view from state at start, so it only needs
    // what happens from now on. (A filter would need nats-server 2.10; Debian ships 2.9.)
    const consumer = await js.consumers.get(STREAMS.events.name, {
      deliver_policy: DeliverPolicy.New,
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    this.loop = (async () => {
      for await (const msg of messages) {
        try {
          for (const event of decodeEvents(msg.data)) {
            if (!event.type.startsWith('task.')) break; // a message's events share their type
            this.seen.inc({ type: event.type });
            this.logger.debug({ taskArn: event.resourceArn, type: event.type }, 'task event');
          }
        } catch (err) {
          this.logger.warn({ err, subject: msg.subject }, 'undecodable event skipped');
        }
      }
    })().catch((err: unknown) =>
      // The consumer can give up (NATS away for long, the connection closed): without this the
      // rejection would end the process.
      this.logger.error({ err }, 'task event consumer stopped'),
    );
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }
}
