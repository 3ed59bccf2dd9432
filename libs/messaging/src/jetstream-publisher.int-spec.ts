/**
 * JetStreamPublisher against a real NATS server with Wharf's streams (Testcontainers).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNats, type StartedNats } from '@wharf/testing';
import { JetStreamPublisher, JetStreamPublishError } from './jetstream-publisher';
import { connectNats, decode, encode, ensureStreams } from './nats';
import { STREAMS, subjects } from './subjects';

jest.setTimeout(120_000);

describe('JetStreamPublisher', () => {
  let nats: StartedNats;
  let nc: NatsConnection;
  let publisher: JetStreamPublisher;

  beforeAll(async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    nats = await startNats();
    nc = await connectNats({ servers: nats.url, name: 'publisher-spec' });
    await ensureStreams(nc);
    publisher = new JetStreamPublisher(nc);
  });

  afterAll(async () => {
    publisher?.close();
    await nc?.close();
    await nats?.container.stop();
  });

  it('resolves with the stream and sequence once stored, many in flight, in the order sent', async () => {
    const subject = subjects.event('pub', 'task', 'changed');
    const acks = await Promise.all(
      Array.from({ length: 500 }, (_, n) =>
        publisher.publish(subject, encode({ n }), { msgID: `order-${n}` }),
      ),
    );
    expect(acks.every((a) => a.stream === STREAMS.events.name && !a.duplicate)).toBe(true);
    const seqs = acks.map((a) => a.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage(STREAMS.events.name, { seq: seqs[499] });
    expect(decode<{ n: number }>(stored!.data).n).toBe(499);
    expect(publisher.inFlight).toBe(0);
  });

  it('says duplicate for a msgID the stream has already stored, and stores it once', async () => {
    const subject = subjects.event('pub', 'task', 'changed');
    const first = await publisher.publish(subject, encode({}), { msgID: 'same-id' });
    const again = await publisher.publish(subject, encode({}), { msgID: 'same-id' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ stream: first.stream, seq: first.seq, duplicate: true });
  });

  it('fails a publish that no stream takes, naming the subject', async () => {
    await expect(publisher.publish('nowhere.at.all', encode({}))).rejects.toThrow(
      new JetStreamPublishError('no JetStream stream takes nowhere.at.all', 'nowhere.at.all'),
    );
  });

  it('fails a publish nothing answers within its time, and one still waiting when closed', async () => {
    // A plain subscriber takes the message and never answers, as a stream that is away would.
    const silent = nc.subscribe('silent.subject');
    const quick = new JetStreamPublisher(nc, 200);
    try {
      await expect(quick.publish('silent.subject', encode({}))).rejects.toThrow(
        /did not answer a publish to silent\.subject within 200 ms/,
      );
    } finally {
      quick.close();
    }
    const closing = new JetStreamPublisher(nc, 60_000);
    const waiting = closing.publish('silent.subject', encode({}));
    closing.close();
    await expect(waiting).rejects.toThrow('the publisher was closed');
    await expect(closing.publish('silent.subject', encode({}))).rejects.toThrow(
      'the publisher is closed',
    );
    silent.unsubscribe();
  });
});
