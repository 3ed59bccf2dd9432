import { createLogger } from '@wharf/observability';
import type { common, stateV1 } from '@wharf/proto';
import { of, throwError } from 'rxjs';
import type { AgentClients } from './agent-clients';
import { schedulerConfigSchema } from './config';
import { ClusterSnapshots } from './cluster-snapshots';
import { Lookups } from './lookups';
import { PlacementBatcher } from './placement-batcher';
import { createPlanner } from './planner';
import { RunTaskUseCase } from './run-task.use-case';
import { TaskLauncher } from './task-launch';

/**
 * The re-planning loop, with state answering from memory: the commit path itself is covered
 * against the real state in scheduler.int-spec.ts.
 */
const instance = (arn: string, memory: number, version: number): common.ContainerInstance => ({
  containerInstanceArn: arn,
  clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
  ec2InstanceId: '',
  status: 'ACTIVE',
  agentConnected: true,
  registered: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
  remaining: { cpu: 1024, memory, ports: [], portsUdp: [] },
  runningTasksCount: 0,
  pendingTasksCount: 0,
  attributes: [],
  agentVersion: '',
  dockerVersion: '',
  agentAddress: `${arn}:4703`,
  registeredAt: arn === 'a' ? 1 : 2,
  version,
  lastHeartbeatAt: 0,
  hostname: '',
  hostAddress: '',
  taskGroups: [],
  tagsJson: '[]',
});

function setup(
  snapshots: common.ContainerInstance[][],
  rejectFirst: boolean,
  requiresAttributes: { name: string; value?: string }[] = [],
) {
  const commits: stateV1.CommitPlacementsRequest[] = [];
  const started: string[] = [];
  let lists = 0;
  const state = {
    describeClusters: () =>
      of({
        clusters: [
          {
            clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
            clusterName: 'default',
            status: 'ACTIVE',
          },
        ],
        failures: [],
      }),
    describeTaskDefinition: () =>
      of({
        taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
        family: 'web',
        revision: 1,
        status: 'ACTIVE',
        definitionJson: JSON.stringify({
          family: 'web',
          containerDefinitions: [{ name: 'web', image: 'i', memory: 512, essential: true }],
          requiresAttributes,
        }),
        registeredAt: 0,
        deregisteredAt: 0,
      }),
    listContainerInstances: () => {
      lists++;
      return of({ containerInstanceArns: [], nextToken: '', containerInstances: snapshots[0] });
    },
    commitPlacements: (req: stateV1.CommitPlacementsRequest) => {
      commits.push(req);
      if (rejectFirst && commits.length === 1) {
        // State answers with the instances as they are now: the scheduler re-plans on them.
        return of({
          tasks: [],
          rejected: req.placements.map((_, index) => ({ index, reason: 'STALE', detail: '' })),
          instances: snapshots[1],
          instanceEventMessageIds: [],
        });
      }
      return of({
        tasks: req.placements.map((p) => p.task!),
        rejected: [],
        instances: [],
        instanceEventMessageIds: [],
      });
    },
    markTaskStopping: (req: stateV1.MarkTaskStoppingRequest) =>
      throwError(() => new Error(`unexpected stop of ${req.task}`)),
  } as unknown as stateV1.StateServiceClient;
  const agents = {
    startTask: async (_address: string, req: { task: common.Task }) => {
      started.push(req.task.containerInstanceArn);
      return { accepted: true };
    },
  } as unknown as AgentClients;
  const logger = createLogger('test', 'silent');
  const config = schedulerConfigSchema.parse({});
  const launcher = new TaskLauncher(state, agents, logger, config, new Lookups(state));
  const views = new ClusterSnapshots(
    (cluster) => launcher.listInstances(cluster),
    config.SCHEDULER_SNAPSHOT_RESYNC_MS,
  );
  const batcher = new PlacementBatcher(state, views, launcher, createPlanner(), logger);
  const useCase = new RunTaskUseCase(state, launcher, batcher, logger);
  return { useCase, state, commits, started, lists: () => lists };
}

const request = (count: number) => ({
  cluster: '',
  taskDefinition: 'web',
  count,
  group: '',
  startedBy: '',
  overridesJson: '',
  tagsJson: '',
  launchType: '',
});

describe('RunTaskUseCase', () => {
  it('answers with its tasks even when state keeps failing to complete the client token', async () => {
    const { useCase, state, started } = setup([[instance('a', 1024, 1)]], false);
    let completions = 0;
    Object.assign(state, {
      reserveClientToken: () => of({ reserved: true, taskArns: [], failuresJson: '' }),
      completeClientToken: () => {
        completions++;
        return throwError(() => Object.assign(new Error('unavailable'), { code: 14 }));
      },
    });
    const res = await useCase.execute({ ...request(1), clientToken: 'once' });
    expect(res.tasks).toHaveLength(1);
    expect(started).toEqual(['a']);
    expect(completions).toBe(3);
  });

  it('plans rejected placements again on the instances the commit returned', async () => {
    // First snapshot: `a` has room; by the commit it is full, and state's answer says so.
    const { useCase, commits, started, lists } = setup(
      [
        [instance('a', 1024, 1), instance('b', 1024, 1)],
        [instance('a', 0, 2), instance('b', 1024, 1)],
      ],
      true,
    );
    const res = await useCase.execute({
      ...request(2),
      placementStrategyJson: JSON.stringify([{ type: 'binpack', field: 'memory' }]),
    });
    expect(commits).toHaveLength(2);
    expect(commits[0].placements.map((p) => p.task?.containerInstanceArn)).toEqual(['a', 'a']);
    expect(commits[0].placements.map((p) => p.expectedInstanceVersion)).toEqual([1, 1]);
    expect(commits[1].placements.map((p) => p.task?.containerInstanceArn)).toEqual(['b', 'b']);
    expect(res.tasks).toHaveLength(2);
    expect(res.failures).toEqual([]);
    expect(started).toEqual(['b', 'b']);
    expect(lists()).toBe(1); // the cluster was read once; the re-plan needed no read
  });

  it('places nothing on an instance whose agent is disconnected (failure reason AGENT)', async () => {
    const gone = { ...instance('a', 1024, 1), agentConnected: false };
    const { useCase, commits, started } = setup([[gone, instance('b', 1024, 1)]], false);
    const res = await useCase.execute(request(1));
    expect(commits[0].placements.map((p) => p.task?.containerInstanceArn)).toEqual(['b']);
    expect(started).toEqual(['b']);

    const alone = setup([[gone]], false);
    const none = await alone.useCase.execute(request(1));
    expect(alone.commits).toHaveLength(0);
    expect(none.tasks).toEqual([]);
    expect(none.failures).toEqual([
      {
        arn: 'a',
        reason: 'AGENT',
        detail:
          'No container instance met all of its requirements. Closest is a: the agent is disconnected. Of 1 ACTIVE instances: 1 AGENT.',
      },
    ]);
    expect(res.failures).toEqual([]);
  });

  it("fails ATTRIBUTE when no instance has the task definition's requiresAttributes", async () => {
    const gpu = { ...instance('b', 1024, 1), attributes: [{ name: 'gpu', value: 'a100' }] };
    const required = [{ name: 'gpu', value: 'h100' }];
    const none = setup([[instance('a', 1024, 1), gpu]], false, required);
    const res = await none.useCase.execute(request(1));
    expect(none.commits).toHaveLength(0);
    expect(res.failures).toEqual([expect.objectContaining({ arn: 'a', reason: 'ATTRIBUTE' })]);
    expect(res.failures[0].detail).toContain('missing required attribute gpu');
    expect(res.failures[0].detail).toContain('2 ATTRIBUTE');

    const some = setup([[instance('a', 1024, 1), gpu]], false, [{ name: 'gpu' }]);
    await some.useCase.execute(request(2));
    expect(some.commits[0].placements.map((p) => p.task?.containerInstanceArn)).toEqual(['b', 'b']);
  });

  it('builds tasks the ECS way: 32-hex ids, family group, overrides, PROVISIONING', async () => {
    const { useCase } = setup([[instance('a', 1024, 1)]], false);
    const res = await useCase.execute({
      ...request(1),
      overridesJson: JSON.stringify({ containerOverrides: [{ name: 'web', memory: 256 }] }),
    });
    const [task] = res.tasks;
    expect(task.taskArn).toMatch(
      /^arn:aws:ecs:us-east-1:000000000000:task\/default\/[0-9a-f]{32}$/,
    );
    expect(task).toMatchObject({
      group: 'family:web',
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      launchType: 'EC2',
      memory: 256,
    });
    expect(task.containers[0]).toMatchObject({ name: 'web', memory: '256', essential: true });
    expect(JSON.parse(task.overridesJson)).toEqual({
      containerOverrides: [{ name: 'web', memory: 256 }],
    });
  });

  it('rejects an override for a container the definition does not have', async () => {
    const { useCase } = setup([[instance('a', 1024, 1)]], false);
    await expect(
      useCase.execute({
        ...request(1),
        overridesJson: JSON.stringify({ containerOverrides: [{ name: 'db' }] }),
      }),
    ).rejects.toThrow('Override for container named db is not a container in the TaskDefinition.');
  });
});
