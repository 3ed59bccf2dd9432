import { compilePlacementOptions, PlacementConstraintInput } from '@wharf/domain';
import { createLogger } from '@wharf/observability';
import type { common, stateV1 } from '@wharf/proto';
import { firstValueFrom, from, Observable, of } from 'rxjs';
import type { AgentClients } from './agent-clients';
import { ClusterSnapshots } from './cluster-snapshots';
import { schedulerConfigSchema } from './config';
import { Lookups } from './lookups';
import {
  MAX_BATCH_PLACEMENTS,
  MAX_COMMITS_IN_FLIGHT,
  MAX_PLACEMENT_ATTEMPTS,
  OVERLAP_FROM_PLACEMENTS,
  PlacementBatcher,
} from './placement-batcher';
import { createPlanner } from './planner';
import { Launch, TaskLauncher } from './task-launch';

/** The batcher against a state that answers from memory (the real commit: scheduler.int-spec). */
const CLUSTER_ARN = 'arn:aws:ecs:us-east-1:000000000000:cluster/default';

const instance = (arn: string, memory: number, version = 1): common.ContainerInstance => ({
  containerInstanceArn: arn,
  clusterArn: CLUSTER_ARN,
  ec2InstanceId: '',
  status: 'ACTIVE',
  agentConnected: true,
  registered: { cpu: 4096, memory: 4096, ports: [], portsUdp: [] },
  remaining: { cpu: 4096, memory, ports: [], portsUdp: [] },
  runningTasksCount: 0,
  pendingTasksCount: 0,
  attributes: [],
  agentVersion: '',
  dockerVersion: '',
  agentAddress: `${arn}:4703`,
  registeredAt: arn.charCodeAt(0),
  version,
  lastHeartbeatAt: 0,
  hostname: '',
  hostAddress: '',
  taskGroups: [],
  tagsJson: '[]',
});

type Commit = (
  req: stateV1.CommitPlacementsRequest,
) => Observable<stateV1.CommitPlacementsResponse>;

/**
 * State's commit, in memory: a placement that expects another version of its instance than the
 * one before the commit is rejected as STALE, every other one is taken, and the answer carries
 * each named instance as it is after the commit (less memory, one more task of the group, the
 * version bumped once per task taken, as state does).
 */
function acceptAll(instances: common.ContainerInstance[]): Commit {
  const current = new Map(instances.map((i) => [i.containerInstanceArn, i]));
  return (req) => {
    const seen = new Map<string, number>();
    const tasks: common.Task[] = [];
    const rejected: stateV1.RejectedPlacement[] = [];
    req.placements.forEach(({ task, expectedInstanceVersion }, index) => {
      const before = current.get(task!.containerInstanceArn)!;
      const versionBefore = seen.get(before.containerInstanceArn) ?? before.version;
      seen.set(before.containerInstanceArn, versionBefore);
      if (expectedInstanceVersion && expectedInstanceVersion !== versionBefore) {
        rejected.push({ index, reason: 'STALE', detail: `instance version is ${versionBefore}` });
        return;
      }
      const groups = new Map(before.taskGroups.map((g) => [g.group, g.count]));
      groups.set(task!.group, (groups.get(task!.group) ?? 0) + 1);
      current.set(before.containerInstanceArn, {
        ...before,
        remaining: { ...before.remaining!, memory: before.remaining!.memory - task!.memory },
        taskGroups: [...groups].map(([group, count]) => ({ group, count })),
        version: before.version + 1,
      });
      tasks.push(task!);
    });
    return of({
      tasks,
      rejected,
      instances: [...seen.keys()].map((arn) => current.get(arn)!),
      instanceEventMessageIds: [],
    });
  };
}

/** A commit that waits for `release()` before it answers, the ones after it as they come. */
function held(commit: Commit, holdFirst: number) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let n = 0;
  const wrapped: Commit = (req) =>
    from((n++ < holdFirst ? released : Promise.resolve()).then(() => firstValueFrom(commit(req))));
  return { commit: wrapped, release: () => release() };
}

/** `overlapFrom` 1 (a second commit for any queued placement) unless a test says otherwise. */
function setup(
  instances: common.ContainerInstance[],
  commit: Commit = acceptAll(instances),
  overlapFrom = 1,
) {
  const commits: stateV1.CommitPlacementsRequest[] = [];
  let lists = 0;
  const state = {
    listContainerInstances: () => {
      lists++;
      return of({ containerInstanceArns: [], nextToken: '', containerInstances: instances });
    },
    commitPlacements: (req: stateV1.CommitPlacementsRequest) => {
      commits.push(req);
      return commit(req);
    },
  } as unknown as stateV1.StateServiceClient;
  const logger = createLogger('test', 'silent');
  const config = schedulerConfigSchema.parse({});
  const launcher = new TaskLauncher(state, {} as AgentClients, logger, config, new Lookups(state));
  const snapshots = new ClusterSnapshots((c) => launcher.listInstances(c), 60_000);
  const batcher = new PlacementBatcher(
    state,
    snapshots,
    launcher,
    createPlanner(),
    logger,
    overlapFrom,
  );

  const launch: Launch = {
    cluster: {
      clusterArn: CLUSTER_ARN,
      clusterName: 'default',
      status: 'ACTIVE',
    } as common.Cluster,
    taskDefinition: {
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
      family: 'web',
    } as common.TaskDefinition,
    definition: { family: 'web', containerDefinitions: [{ name: 'web', memory: 1024 }] },
    overrides: {},
    claim: { cpu: 0, memory: 1024, ports: [], portsUdp: [] },
  };
  const job = (
    count: number,
    group = 'family:web',
    constraints: PlacementConstraintInput[] = [],
  ) => ({
    launch,
    tasks: Array.from({ length: count }, () => ({
      ...launcher.newTask(launch, { group, startedBy: '', tagsJson: '', launchType: 'EC2' }),
    })),
    options: compilePlacementOptions({
      constraints,
      strategy: [{ type: 'binpack', field: 'memory' }],
    }),
  });
  return { batcher, commits, job, snapshots, lists: () => lists };
}

const placedOn = (req: stateV1.CommitPlacementsRequest) =>
  req.placements.map((p) => p.task!.containerInstanceArn);

describe('PlacementBatcher', () => {
  it('commits the requests that queue behind the commits in flight in one batch, each seeing the others', async () => {
    const instances = [instance('a', 4096), instance('b', 4096)];
    const { commit, release } = held(acceptAll(instances), MAX_COMMITS_IN_FLIGHT);
    const { batcher, commits, job, lists } = setup(instances, commit);
    const tick = () => new Promise((r) => setImmediate(r));
    const first = batcher.place('default', job(1));
    await tick(); // the first batch is committing
    const second = batcher.place('default', job(1));
    await tick(); // so is the second, planned on the snapshot less the first's claim
    const queued = [1, 2, 3].map(() => batcher.place('default', job(1)));
    await tick();
    expect(commits).toHaveLength(MAX_COMMITS_IN_FLIGHT);
    release();
    const outcomes = await Promise.all([first, second, ...queued]);

    expect(commits.map(placedOn)).toEqual([['a'], ['a'], ['a', 'a', 'b']]);
    // Each batch expects `a` at the version the commits before it leave it at.
    expect(commits.map((c) => Number(c.placements[0].expectedInstanceVersion))).toEqual([1, 2, 3]);
    expect(outcomes.map((o) => o.failures)).toEqual([[], [], [], [], []]);
    expect(outcomes.map((o) => o.committed.length)).toEqual([1, 1, 1, 1, 1]);
    expect(outcomes[4].committed[0].agentAddress).toBe('b:4703');
    expect(lists()).toBe(1);
  });

  it('waits for the commit under way unless a full batch is queued', async () => {
    const instances = [instance('a', 1024 * 1024), instance('b', 1024 * 1024)];
    const { commit, release } = held(acceptAll(instances), 2);
    const { batcher, commits, job } = setup(instances, commit, OVERLAP_FROM_PLACEMENTS);
    const tick = () => new Promise((r) => setImmediate(r));
    const first = batcher.place('default', job(1));
    await tick(); // the first batch is committing
    const few = [1, 2, 3].map(() => batcher.place('default', job(1)));
    await tick();
    // Three placements queued: no second commit; they wait and go together.
    expect(commits).toHaveLength(1);
    const full = batcher.place('default', job(OVERLAP_FROM_PLACEMENTS - 3));
    await tick();
    // A full batch queued: it commits beside the first.
    expect(commits.map((c) => c.placements.length)).toEqual([1, MAX_BATCH_PLACEMENTS]);
    release();
    const outcomes = await Promise.all([first, ...few, full]);
    expect(commits.map((c) => c.placements.length)).toEqual([1, MAX_BATCH_PLACEMENTS]);
    expect(outcomes.flatMap((o) => o.failures)).toEqual([]);
  });

  it("does not take a claim twice when the commit's event comes before its answer", async () => {
    const instances = [instance('a', 2048), instance('b', 4096)];
    const { commit, release } = held(acceptAll(instances), 2);
    const { batcher, commits, job, snapshots } = setup(instances, commit);
    const first = batcher.place('default', job(1));
    await new Promise((r) => setImmediate(r));
    // The first commit's event: `a` at version 2 with 1024 MiB left, before the answer.
    snapshots.apply('default', [instance('a', 1024, 2)]);
    const second = batcher.place('default', job(1));
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all([first, second]);
    // Binpack still sees 1024 MiB on `a` (not 0), and expects the version the event brought.
    expect(commits.map(placedOn)).toEqual([['a'], ['a']]);
    expect(Number(commits[1].placements[0].expectedInstanceVersion)).toBe(2);
  });

  it('keeps distinctInstance across requests of one group in the same batch', async () => {
    const { batcher, commits, job } = setup([instance('a', 4096), instance('b', 4096)]);
    const distinct = [{ type: 'distinctInstance' }];
    const outcomes = await Promise.all([
      batcher.place('default', job(1, 'g', distinct)),
      batcher.place('default', job(1, 'g', distinct)),
      batcher.place('default', job(1, 'g', distinct)),
    ]);
    expect(commits.flatMap(placedOn).sort()).toEqual(['a', 'b']);
    expect(outcomes[2].failures).toEqual([
      expect.objectContaining({ reason: 'DistinctInstance placement constraint unsatisfied.' }),
    ]);
  });

  it("fails with state's reason after the last attempt, which commits without a version", async () => {
    const { batcher, commits, job } = setup([instance('a', 4096, 7)], (req) =>
      of({
        tasks: [],
        rejected: req.placements.map((_, index) => ({
          index,
          reason: 'RESOURCE:MEMORY',
          detail: 'needs 1024 MiB, 0 MiB remain',
        })),
        instances: [],
        instanceEventMessageIds: [],
      }),
    );
    const outcome = await batcher.place('default', job(1));
    expect(commits).toHaveLength(MAX_PLACEMENT_ATTEMPTS);
    expect(commits.map((c) => Number(c.placements[0].expectedInstanceVersion))).toEqual([7, 7, 0]);
    expect(outcome).toEqual({
      committed: [],
      failures: [{ arn: 'a', reason: 'RESOURCE:MEMORY', detail: 'needs 1024 MiB, 0 MiB remain' }],
    });
  });

  it('keeps what an earlier batch committed when a later commit fails', async () => {
    const { batcher, job } = setup([instance('a', 4096), instance('b', 4096)], (req) =>
      req.placements.length === 2
        ? of({
            tasks: [req.placements[0].task!],
            rejected: [{ index: 1, reason: 'STALE', detail: 'instance version is 2, expected 1' }],
            instances: [instance('a', 1024, 2)],
            instanceEventMessageIds: [],
          })
        : from(Promise.reject(new Error('state is unavailable'))),
    );
    const outcome = await batcher.place('default', job(2));
    expect(outcome.committed).toHaveLength(1);
    expect(outcome.failures).toEqual([
      { arn: '', reason: 'STATE', detail: 'state is unavailable' },
    ]);
  });

  it('reads the cluster again before failing a task that fits nowhere on the kept snapshot', async () => {
    const instances = [instance('a', 1024)];
    const { batcher, commits, job, lists } = setup(
      instances,
      acceptAll([instance('a', 1024), instance('b', 4096)]),
    );
    await expect(batcher.place('default', job(1))).resolves.toMatchObject({ failures: [] });
    // `b` registered a moment ago; its event has not arrived. Full `a` does not mean failure.
    instances.push(instance('b', 4096));
    const outcome = await batcher.place('default', job(1));
    expect(outcome.failures).toEqual([]);
    expect(placedOn(commits[1])).toEqual(['b']);
    expect(lists()).toBe(2);
    // Still nowhere to go on the fresh read: now it is a failure, and no further read.
    const full = await batcher.place('default', job(4));
    expect(full.failures).toHaveLength(1);
    expect(full.failures[0]).toMatchObject({ reason: 'RESOURCE:MEMORY' });
  });

  it('fails the call when nothing was committed and the commit fails', async () => {
    const { batcher, job } = setup([instance('a', 4096)], () =>
      from(Promise.reject(new Error('state is unavailable'))),
    );
    await expect(batcher.place('default', job(1))).rejects.toThrow('state is unavailable');
  });
});

describe('ClusterSnapshots', () => {
  it('keeps the newest record of each instance, from lists, commits and events alike', async () => {
    let listed = [instance('b', 4096, 3), instance('a', 4096, 1)];
    let now = 0;
    const snapshots = new ClusterSnapshots(
      async () => listed,
      1_000,
      () => now,
    );
    const view = await snapshots.get('default');
    expect(view.instances().map((i) => i.arn)).toEqual(['a', 'b']); // oldest registration first

    snapshots.apply('default', [instance('a', 1024, 2), instance('b', 0, 2)]);
    expect(view.instances().map((i) => i.remaining.memory)).toEqual([1024, 4096]);

    // A resync that read the cluster before the event does not undo it.
    listed = [instance('a', 4096, 1), instance('b', 4096, 3), instance('c', 4096, 1)];
    now = 1_000;
    const again = await snapshots.get('default');
    expect(again).toBe(view);
    expect(view.instances().map((i) => [i.arn, i.remaining.memory])).toEqual([
      ['a', 1024],
      ['b', 4096],
      ['c', 4096],
    ]);
  });
});
