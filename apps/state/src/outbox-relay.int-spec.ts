import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Pool } from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import {
  connectNats,
  decode,
  decodeEvents,
  ensureStreams,
  STREAMS,
  WharfEvent,
  WharfEventBatch,
} from '@wharf/messaging';
import { startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { inTransaction } from './db';
import { migrate } from './migrations/migrator';
import { DomainEvent, OutboxRepository } from './outbox.repository';
import { OutboxRelay } from './outbox-relay';

jest.setTimeout(120_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const CLUSTER_ARN = 'arn:aws:ecs:us-east-1:000000000000:cluster/relay';

function taskEvent(n: number, event = 'changed', detail: object = {}): DomainEvent {
  return {
    cluster: 'relay',
    entity: 'task',
    event,
    resourceArn: `arn:aws:ecs:us-east-1:000000000000:task/relay/${n}`,
    version: 1,
    detail: { n, clusterArn: CLUSTER_ARN, ...detail },
  };
}

/** Appends each event with a statement of its own: one row, and one message, per event. */
async function appendOneByOne(
  pool: Pool,
  outbox: OutboxRepository,
  events: DomainEvent[],
): Promise<string[]> {
  return inTransaction(pool, async (tx) => {
    const ids: string[] = [];
    for (const e of events) ids.push(await outbox.append(tx, e));
    return ids;
  });
}

describe('OutboxRelay', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let pool: Pool;
  let nc: NatsConnection;
  const outbox = new OutboxRepository();

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    pool = new Pool({ connectionString: pg.url });
    await migrate(pool, logger);
    nc = await connectNats({ servers: nats.url, name: 'outbox-relay-spec' });
    await ensureStreams(nc);
  });

  afterAll(async () => {
    await nc?.close();
    await pool?.end();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const relayKeeping = (retentionMs: number, pruneBatch?: number) =>
    new OutboxRelay(
      pool,
      jetstream(nc),
      outbox,
      logger,
      new Registry(),
      retentionMs,
      150,
      pruneBatch,
    );

  async function rowCounts(): Promise<{ pending: string; published: string }> {
    const { rows } = await pool.query<{ pending: string; published: string }>(
      `SELECT count(*) FILTER (WHERE published_at IS NULL) AS pending,
              count(*) FILTER (WHERE published_at IS NOT NULL) AS published FROM outbox`,
    );
    return rows[0];
  }

  /** The messages in the stream, in stream order, from `startSeq` on. */
  async function streamedMessages(startSeq: number) {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info(STREAMS.events.name)).state.last_seq;
    const messages = [];
    for (let seq = startSeq; seq <= last; seq++) {
      const m = await jsm.streams.getMessage(STREAMS.events.name, { seq });
      if (m) messages.push(m);
    }
    return messages;
  }

  /** The events in the stream (batches' in order), in stream order, from `startSeq` on. */
  async function streamed(startSeq: number): Promise<WharfEvent[]> {
    return (await streamedMessages(startSeq)).flatMap((m) => decodeEvents(m.data));
  }

  it('publishes in numeric id order across a change in the number of digits, oldest first', async () => {
    // Ids 95…394: more than one batch (256), and 96…99 sort after 100…394 as text.
    await pool.query(`SELECT setval(pg_get_serial_sequence('outbox', 'id'), 94)`);
    const ids = await appendOneByOne(
      pool,
      outbox,
      Array.from({ length: 300 }, (_, i) => taskEvent(i)),
    );
    expect(ids[0]).toBe('95');
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(STREAMS.events.name)).state.last_seq;

    const relay = relayKeeping(60_000);
    expect(await relay.flush()).toBe(300);

    const events = await streamed(before + 1);
    expect(events.map((e) => e.id)).toEqual(ids);
    expect(events.map((e) => (e.detail as { n: number }).n)).toEqual(
      Array.from({ length: 300 }, (_, i) => i),
    );
    expect(await rowCounts()).toEqual({ pending: '0', published: '300' });
  });

  it('deletes published rows once they are older than its retention', async () => {
    await inTransaction(pool, (tx) => outbox.appendMany(tx, [taskEvent(-1)]));
    await sleep(5);
    // A relay prunes in its first batch, before it publishes: the 300 rows above go now…
    expect(await relayKeeping(1).flush()).toBe(1);
    expect(await rowCounts()).toEqual({ pending: '0', published: '1' });
    await sleep(5);
    // …and the row it published goes in the next relay's first batch.
    expect(await relayKeeping(1).flush()).toBe(0);
    expect(await rowCounts()).toEqual({ pending: '0', published: '0' });
  });

  it('with no retention, deletes each row in the transaction that publishes it', async () => {
    const ids = await appendOneByOne(pool, outbox, [taskEvent(1), taskEvent(2), taskEvent(3)]);
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(STREAMS.events.name)).state.last_seq;

    expect(await relayKeeping(0).flush()).toBe(3);
    expect(await rowCounts()).toEqual({ pending: '0', published: '0' });
    expect((await streamed(before + 1)).map((e) => e.id)).toEqual(ids);
  });

  it('deletes a backlog of published rows a bounded batch at a time, tick after tick', async () => {
    await appendOneByOne(
      pool,
      outbox,
      Array.from({ length: 250 }, (_, i) => taskEvent(i)),
    );
    expect(await relayKeeping(60_000).flush()).toBe(250);
    const relay = relayKeeping(0, 100);
    const left: string[] = [];
    for (let tick = 0; tick < 3; tick++) {
      await relay.flush();
      left.push((await rowCounts()).published);
    }
    // 100 a statement, one statement a tick
    expect(left).toEqual(['150', '50', '0']);
  });

  it("sends one statement's events on one subject as one message, in order, split when large", async () => {
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(STREAMS.events.name)).state.last_seq;
    // 36 KiB of detail each: seven fit in a batch of 256 Ki characters, the eighth starts the next one.
    const padding = { padding: 'x'.repeat(36 * 1024) };
    const given = [
      taskEvent(1, 'created'),
      taskEvent(2, 'changed'),
      taskEvent(3, 'created'),
      taskEvent(4, 'created'),
      ...Array.from({ length: 8 }, (_, i) => taskEvent(10 + i, 'stopped', padding)),
    ];
    const ids = await inTransaction(pool, (tx) => outbox.appendMany(tx, given));
    expect(new Set(ids).size).toBe(given.length);
    expect(ids.map(Number)).toEqual([...ids.map(Number)].sort((a, b) => a - b));

    // Rows in the order of their subjects' first events: created (1, 3, 4), changed (2), then
    // the large ones in two batches (7 and 1: the last alone is a plain event).
    expect(await relayKeeping(0).flush()).toBe(4);
    const messages = await streamedMessages(before + 1);
    const shapes = messages.map((m) => {
      const message = decode<WharfEvent | WharfEventBatch>(m.data);
      return {
        subject: m.subject,
        msgId: m.header?.get('Nats-Msg-Id'),
        id: message.id,
        ns: decodeEvents<{ n: number }>(m.data).map((e) => e.detail.n),
        batch: 'events' in message,
      };
    });
    expect(shapes).toEqual([
      {
        subject: 'wharf.events.relay.task.created',
        msgId: ids[0],
        id: ids[0],
        ns: [1, 3, 4],
        batch: true,
      },
      {
        subject: 'wharf.events.relay.task.changed',
        msgId: ids[1],
        id: ids[1],
        ns: [2],
        batch: false,
      },
      {
        subject: 'wharf.events.relay.task.stopped',
        msgId: ids[4],
        id: ids[4],
        ns: [10, 11, 12, 13, 14, 15, 16],
        batch: true,
      },
      {
        subject: 'wharf.events.relay.task.stopped',
        msgId: ids[11],
        id: ids[11],
        ns: [17],
        batch: false,
      },
    ]);
    // Each event keeps its own id and shape inside a batch.
    const events = await streamed(before + 1);
    expect(events.map((e) => e.id).sort((a, b) => Number(a) - Number(b))).toEqual(ids);
    expect(events[0]).toMatchObject({
      v: 1,
      id: ids[0],
      type: 'task.created',
      cluster: 'relay',
      resourceArn: given[0].resourceArn,
      version: 1,
      detail: { n: 1 },
    });
    // The outbox_events view shows them one per row, as they were given.
    await inTransaction(pool, (tx) => outbox.appendMany(tx, given.slice(0, 4)));
    const { rows } = await pool.query<{ n: number; type: string }>(
      `SELECT (payload -> 'detail' ->> 'n')::int AS n, payload ->> 'type' AS type
         FROM outbox_events WHERE published_at IS NULL ORDER BY id`,
    );
    expect(rows).toEqual([
      { n: 1, type: 'task.created' },
      { n: 2, type: 'task.changed' },
      { n: 3, type: 'task.created' },
      { n: 4, type: 'task.created' },
    ]);
  });

  it('carries any text in an event unchanged: quotes, backslashes, control characters, emoji', async () => {
    await relayKeeping(0).flush(); // what earlier tests left unpublished
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(STREAMS.events.name)).state.last_seq;
    // \u001e is what the INSERT joins events with; JSON.stringify escapes it in a string.
    const awkward = { text: 'a "quoted" \\ back\u001eslash\u0000\n\ttab {[,]} 🚢 ∑ é' };
    const given = [
      taskEvent(1, 'created', awkward),
      taskEvent(2, 'created'),
      taskEvent(3, 'changed', awkward),
    ];
    await inTransaction(pool, (tx) => outbox.appendMany(tx, given));
    expect(await relayKeeping(0).flush()).toBe(2);
    const events = await streamed(before + 1);
    expect(events.map((e) => [e.type, e.detail])).toEqual([
      ['task.created', { n: 1, clusterArn: CLUSTER_ARN, ...awkward }],
      ['task.created', { n: 2, clusterArn: CLUSTER_ARN }],
      ['task.changed', { n: 3, clusterArn: CLUSTER_ARN, ...awkward }],
    ]);
  });
});
