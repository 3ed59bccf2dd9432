/**
 * followClusterEvents against a real NATS: container instance events, alone or batched the way
 * state's outbox relays them (one message for a statement's events on one subject), reach the
 * cluster snapshot and the instance listener, in order.
 */
import { headers, type NatsConnection } from '@nats-io/nats-core';
import pino from 'pino';
import { connectNats, encode, subjects, WharfEvent, WharfEventBatch } from '@wharf/messaging';
import type { common, stateV1 } from '@wharf/proto';
import { startNats, StartedNats } from '@wharf/testing';
import { followClusterEvents } from './cluster-events';
import { ClusterSnapshots } from './cluster-snapshots';
import { Lookups } from './lookups';
import { instanceRecord } from './scheduler-test-fixtures';

jest.setTimeout(60_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let nextId = 1;
function changed(record: common.ContainerInstance): WharfEvent<common.ContainerInstance> {
  return {
    v: 1,
    id: String(nextId++),
    type: 'container_instance.changed',
    cluster: 'c',
    resourceArn: record.containerInstanceArn,
    version: record.version,
    at: Date.now(),
    detail: record,
  };
}

describe('followClusterEvents', () => {
  let nats: StartedNats;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connectNats({ servers: nats.url, name: 'cluster-events-spec' });
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.container.stop();
  });

  /** Follows the events into `snapshots`; `heard` lists what the listener is told. */
  function follow(snapshots: ClusterSnapshots) {
    const heard: string[] = [];
    const stop = followClusterEvents(
      nc,
      snapshots,
      new Lookups({} as stateV1.StateServiceClient),
      logger,
      (cluster, record) => heard.push(`${cluster} ${record.ec2InstanceId}@${record.version}`),
    );
    /** Waits (up to a second) until `n` records were heard. */
    const hearing = async (n: number) => {
      for (let i = 0; i < 50 && heard.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    };
    return { heard, hearing, stop };
  }

  it('applies a batch of instance events and a single one, in order', async () => {
    const snapshots = new ClusterSnapshots(
      async () => [1, 2, 3].map((n) => instanceRecord(n, 1, 2048)),
      60_000,
    );
    await snapshots.get('c');
    const { heard, hearing, stop } = follow(snapshots);
    try {
      const subject = subjects.event('c', 'container_instance', 'changed');
      const batch: WharfEventBatch<common.ContainerInstance> = {
        v: 1,
        id: String(nextId),
        events: [
          instanceRecord(1, 2, 1024),
          instanceRecord(3, 2, 512),
          instanceRecord(1, 3, 0),
        ].map(changed),
      };
      nc.publish(subject, encode(batch));
      nc.publish(subject, encode(changed(instanceRecord(2, 2, 256))));
      // Unreadable: skipped, and what follows still arrives.
      nc.publish(subject, Buffer.from('{"v":1,'));
      nc.publish(subject, encode(changed(instanceRecord(3, 3, 128))));
      await nc.flush();
      await hearing(5);

      expect(heard).toEqual(['c i-1@2', 'c i-3@2', 'c i-1@3', 'c i-2@2', 'c i-3@3']);
      const view = await snapshots.get('c');
      expect(
        [1, 2, 3].map(
          (n) => view.record(instanceRecord(n, 0, 0).containerInstanceArn)?.remaining?.cpu,
        ),
      ).toEqual([0, 256, 128]);
    } finally {
      await stop();
    }
  });

  it("skips a message of the scheduler's own commit (its msgID), and reads the others", async () => {
    const snapshots = new ClusterSnapshots(async () => [instanceRecord(1, 1, 2048)], 60_000);
    await snapshots.get('c');
    // The commit's answer brought version 2; its event message is '9001'.
    snapshots.applyCommitted('c', [instanceRecord(1, 2, 1024)], ['9001']);
    const { heard, hearing, stop } = follow(snapshots);
    try {
      const subject = subjects.event('c', 'container_instance', 'changed');
      const withId = (id: string) => {
        const h = headers();
        h.set('Nats-Msg-Id', id);
        return { headers: h };
      };
      nc.publish(subject, encode(changed(instanceRecord(1, 2, 1024))), withId('9001'));
      nc.publish(subject, encode(changed(instanceRecord(1, 3, 512))), withId('9002'));
      // The same id again (a re-publish): read this time, and dropped as not newer.
      nc.publish(subject, encode(changed(instanceRecord(1, 2, 1024))), withId('9001'));
      await nc.flush();
      await hearing(2);
      expect(heard).toEqual(['c i-1@3', 'c i-1@2']);
      const view = await snapshots.get('c');
      expect(view.record(instanceRecord(1, 0, 0).containerInstanceArn)?.remaining?.cpu).toBe(512);
    } finally {
      await stop();
    }
  });
});
