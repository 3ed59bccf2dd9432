import type { common, stateV1 } from '@wharf/proto';
import { Observable } from 'rxjs';
import { LOOKUP_TTL_MS, Lookups } from './lookups';

/** A call to state that answers when the test says so. */
interface Pending<T> {
  request: unknown;
  answer(value: T): void;
  fail(err: Error): void;
}

function fakeState() {
  const clusterCalls: Pending<common.Cluster | undefined>[] = [];
  const definitionCalls: Pending<common.TaskDefinition>[] = [];
  const call =
    <T, R>(calls: Pending<T>[], wrap: (value: T) => R) =>
    (request: unknown) =>
      new Observable<R>((subscriber) => {
        calls.push({
          request,
          answer: (value) => {
            subscriber.next(wrap(value));
            subscriber.complete();
          },
          fail: (err) => subscriber.error(err),
        });
      });
  const client = {
    describeClusters: call(clusterCalls, (c: common.Cluster | undefined) => ({
      clusters: c ? [c] : [],
      failures: [],
    })),
    describeTaskDefinition: call(definitionCalls, (d: common.TaskDefinition) => d),
  } as unknown as stateV1.StateServiceClient;
  return { client, clusterCalls, definitionCalls };
}

const cluster = (status: string) => ({ clusterName: 'default', status }) as common.Cluster;
const definition = (revision: number) =>
  ({ family: 'web', revision, status: 'ACTIVE' }) as unknown as common.TaskDefinition;
/** Lets the promise callbacks queued so far run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Lookups', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('asks state once for concurrent lookups of a cluster, then answers from memory until the TTL', async () => {
    const state = fakeState();
    const lookups = new Lookups(state.client, clock);
    const answers = Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        lookups.cluster(i % 2 ? 'default' : 'arn:aws:ecs:us-east-1:000000000000:cluster/default'),
      ),
    );
    await settle();
    expect(state.clusterCalls).toHaveLength(1);
    state.clusterCalls[0].answer(cluster('ACTIVE'));
    expect((await answers).every((c) => c?.status === 'ACTIVE')).toBe(true);

    now += LOOKUP_TTL_MS - 1;
    await expect(lookups.cluster('default')).resolves.toMatchObject({ status: 'ACTIVE' });
    expect(state.clusterCalls).toHaveLength(1);

    now += 1;
    const again = Promise.all([lookups.cluster('default'), lookups.cluster('default')]);
    await settle();
    expect(state.clusterCalls).toHaveLength(2);
    state.clusterCalls[1].answer(cluster('INACTIVE'));
    expect((await again).map((c) => c?.status)).toEqual(['INACTIVE', 'INACTIVE']);
  });

  it('does not keep an answer read before an event said the clusters changed', async () => {
    const state = fakeState();
    const lookups = new Lookups(state.client, clock);
    const before = lookups.cluster('default');
    await settle();
    lookups.forgetClusters();
    // A lookup after the event does not join the call under way: it asks again.
    const after = lookups.cluster('default');
    await settle();
    expect(state.clusterCalls).toHaveLength(2);
    state.clusterCalls[0].answer(cluster('ACTIVE'));
    state.clusterCalls[1].answer(cluster('INACTIVE'));
    await expect(before).resolves.toMatchObject({ status: 'ACTIVE' });
    await expect(after).resolves.toMatchObject({ status: 'INACTIVE' });
    // What is kept is the answer read after the event.
    await expect(lookups.cluster('default')).resolves.toMatchObject({ status: 'INACTIVE' });
    expect(state.clusterCalls).toHaveLength(2);
  });

  it('keeps neither a failure nor a missing cluster: the next lookup asks again', async () => {
    const state = fakeState();
    const lookups = new Lookups(state.client, clock);
    const failing = Promise.allSettled([lookups.cluster('default'), lookups.cluster('default')]);
    await settle();
    state.clusterCalls[0].fail(new Error('state unavailable'));
    expect((await failing).map((r) => r.status)).toEqual(['rejected', 'rejected']);

    const missing = lookups.cluster('default');
    await settle();
    expect(state.clusterCalls).toHaveLength(2);
    state.clusterCalls[1].answer(undefined);
    await expect(missing).resolves.toBeUndefined();

    const found = lookups.cluster('default');
    await settle();
    expect(state.clusterCalls).toHaveLength(3);
    state.clusterCalls[2].answer(cluster('ACTIVE'));
    await expect(found).resolves.toMatchObject({ status: 'ACTIVE' });
  });

  it('caches a named revision (one call for concurrent lookups) but never a bare family', async () => {
    const state = fakeState();
    const lookups = new Lookups(state.client, clock);
    const named = Promise.all([lookups.taskDefinition('web:3'), lookups.taskDefinition('web:3')]);
    await settle();
    expect(state.definitionCalls).toHaveLength(1);
    state.definitionCalls[0].answer(definition(3));
    expect((await named).map((d) => d.revision)).toEqual([3, 3]);
    await expect(lookups.taskDefinition('web:3')).resolves.toMatchObject({ revision: 3 });
    expect(state.definitionCalls).toHaveLength(1);

    const latest = Promise.all([lookups.taskDefinition('web'), lookups.taskDefinition('web')]);
    await settle();
    expect(state.definitionCalls).toHaveLength(3);
    state.definitionCalls[1].answer(definition(4));
    state.definitionCalls[2].answer(definition(4));
    await latest;

    lookups.forgetTaskDefinitions();
    const reread = lookups.taskDefinition('web:3');
    await settle();
    expect(state.definitionCalls).toHaveLength(4);
    state.definitionCalls[3].answer(definition(3));
    await reread;
  });
});
