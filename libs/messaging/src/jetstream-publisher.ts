import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';

/** What JetStream answers a stored message with. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/** Anything that publishes to JetStream as `JetStreamClient.publish` does. */
export interface JetStreamPublish {
  publish(subject: string, data: Uint8Array, opts?: { msgID?: string }): Promise<unknown>;
}

/** A publish JetStream refused, did not answer in time, or that no stream takes. */
export class JetStreamPublishError extends Error {
  constructor(
    message: string,
    readonly subject: string,
  ) {
    super(message);
    this.name = 'JetStreamPublishError';
  }
}

const UTF8 = new TextDecoder();

interface Pending {
  subject: string;
  deadline: number;
  resolve: (ack: PubAck) => void;
  reject: (err: Error) => void;
}

/**
 * Publishes to JetStream with many publishes in flight on one reply subscription, as the Go
 * client's async publish does. `JetStreamClient.publish` is a NATS request per message: its own
 * reply token and timer, and (nats-core 3.4) an Error built for every request after it has
 * succeeded; a service relaying thousands of events a second spent several percent of its CPU
 * there. Here each publish is one map entry, and one timer a second fails the unanswered ones.
 *
 * Same contract: resolves with the PubAck once the stream has stored the message (or found it a
 * duplicate of `msgID` within its window); rejects when JetStream refuses it, no stream takes
 * the subject, or no answer comes within `timeoutMs` (the message may still have been stored:
 * publish again with the same msgID).
 */
export class JetStreamPublisher implements JetStreamPublish {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  private readonly pending = new Map<string, Pending>();
  private readonly sweep: NodeJS.Timeout;
  private next = 0;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
  ) {
    this.prefix = `${createInbox()}.`;
    this.subscription = nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (!err) this.answered(msg);
      },
    });
    this.sweep = setInterval(() => this.expire(Date.now()), 1_000);
    this.sweep.unref();
  }

  /** Publishes awaiting an answer, at the moment. */
  get inFlight(): number {
    return this.pending.size;
  }

  publish(subject: string, data: Uint8Array, opts?: { msgID?: string }): Promise<PubAck> {
    if (this.closed) {
      return Promise.reject(new JetStreamPublishError('the publisher is closed', subject));
    }
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, {
        subject,
        deadline: Date.now() + this.timeoutMs,
        resolve,
        reject,
      });
      try {
        let headers;
        if (opts?.msgID) {
          headers = natsHeaders();
          headers.set('Nats-Msg-Id', opts.msgID);
        }
        this.nc.publish(subject, data, { reply: this.prefix + token, headers });
      } catch (err) {
        this.pending.delete(token);
        reject(err as Error);
      }
    });
  }

  /** Stops listening for answers; publishes still unanswered fail. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweep);
    this.subscription.unsubscribe();
    this.expire(Infinity, 'the publisher was closed');
  }

  private answered(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    if (!p) return; // already timed out
    this.pending.delete(token);
    // A 503 status with no body: nothing listens on the subject (no stream takes it).
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      p.reject(new JetStreamPublishError(`no JetStream stream takes ${p.subject}`, p.subject));
      return;
    }
    let answer: Partial<PubAck> & { error?: { code?: number; description?: string } };
    try {
      answer = JSON.parse(UTF8.decode(msg.data)) as typeof answer;
    } catch {
      p.reject(new JetStreamPublishError('JetStream sent an unreadable answer', p.subject));
      return;
    }
    if (answer.error || !answer.stream) {
      const why = answer.error
        ? `${answer.error.description ?? 'refused'} (${answer.error.code ?? '?'})`
        : 'an answer without a stream';
      p.reject(new JetStreamPublishError(`JetStream refused ${p.subject}: ${why}`, p.subject));
      return;
    }
    p.resolve({ stream: answer.stream, seq: answer.seq ?? 0, duplicate: !!answer.duplicate });
  }

  private expire(now: number, why?: string): void {
    for (const [token, p] of this.pending) {
      // Deadlines come in the order publishes were made: the first not yet due ends the sweep.
      if (p.deadline > now) break;
      this.pending.delete(token);
      p.reject(
        new JetStreamPublishError(
          why ?? `JetStream did not answer a publish to ${p.subject} within ${this.timeoutMs} ms`,
          p.subject,
        ),
      );
    }
  }
}
