import type { common } from '@wharf/proto';
import { ClusterSnapshots, ClusterView } from './cluster-snapshots';
import { instanceRecord } from './scheduler-test-fixtures';

/** Instance 1 of cluster `c`, at `version` with `cpu` units left. */
const instance = (version: number, cpu: number) => instanceRecord(1, version, cpu);
const ARN = instance(1, 0).containerInstanceArn;

describe('ClusterView', () => {
  it('drops a deregistered instance, and a late older record does not bring it back', () => {
    const view = new ClusterView();
    view.apply([instance(1, 2048)]);
    expect(view.instances().map((i) => i.arn)).toEqual([ARN]);
    view.apply([{ ...instance(2, 2048), status: 'INACTIVE' }]);
    expect(view.record(ARN)).toBeUndefined();
    expect(view.instances()).toEqual([]);
    view.apply([instance(1, 1024)]); // an event that was overtaken
    expect(view.size).toBe(0);
    view.apply([instance(3, 2048)]); // registered again
    expect(view.record(ARN)?.version).toBe(3);
  });
});

describe('ClusterSnapshots', () => {
  it('keeps an event that arrives while the first read of the cluster is under way', async () => {
    let answer!: (records: common.ContainerInstance[]) => void;
    const snapshots = new ClusterSnapshots(
      () => new Promise((resolve) => (answer = resolve)),
      30_000,
      () => 0, // a clock at 0: the first view must still count as due until read
    );
    const first = snapshots.get('c');
    // A commit's event (version 3) comes before the list, which was read at version 2.
    snapshots.apply('c', [instance(3, 1024)]);
    answer([instance(2, 2048)]);
    const view = await first;
    expect(view.record(ARN)?.version).toBe(3);
    expect(view.record(ARN)?.remaining?.cpu).toBe(1024);
    // Read once: the next get answers from the view without listing again.
    expect((await snapshots.read('c')).fresh).toBe(false);
  });

  it('reads the cluster again when a first read failed, keeping what events said', async () => {
    const answers: Promise<common.ContainerInstance[]>[] = [
      Promise.reject(new Error('state unavailable')),
      Promise.resolve([instance(1, 2048)]),
    ];
    const snapshots = new ClusterSnapshots(
      () => answers.shift()!,
      30_000,
      () => 0,
    );
    await expect(snapshots.get('c')).rejects.toThrow('state unavailable');
    snapshots.apply('c', [instance(2, 512)]);
    const { view, fresh } = await snapshots.read('c');
    expect(fresh).toBe(true);
    expect(view.record(ARN)?.remaining?.cpu).toBe(512);
  });

  it("takes a commit's records and knows its event messages once; a cluster not read keeps none", async () => {
    const snapshots = new ClusterSnapshots(
      async () => [instance(1, 2048)],
      30_000,
      () => 0,
    );
    snapshots.applyCommitted('c', [instance(2, 1024)], ['41']); // not read yet: nothing kept
    expect(snapshots.tookAlready('41')).toBe(false);
    const view = await snapshots.get('c');
    snapshots.applyCommitted('c', [instance(2, 1024)], ['42', '43']);
    expect(view.record(ARN)?.remaining?.cpu).toBe(1024);
    expect(snapshots.tookAlready('42')).toBe(true);
    expect(snapshots.tookAlready('42')).toBe(false); // a redelivery is read
    expect(snapshots.tookAlready('44')).toBe(false);
    expect(snapshots.tookAlready('43')).toBe(true);
  });

  it('forgets the oldest message ids past 4096 (messages that never came)', async () => {
    const snapshots = new ClusterSnapshots(
      async () => [instance(1, 2048)],
      30_000,
      () => 0,
    );
    await snapshots.get('c');
    for (let id = 1; id <= 5000; id++) snapshots.applyCommitted('c', [], [String(id)]);
    expect(snapshots.tookAlready('904')).toBe(false);
    expect(snapshots.tookAlready('905')).toBe(true);
    expect(snapshots.tookAlready('5000')).toBe(true);
  });
});
