import { createLogger } from '@wharf/observability';
import type { common, stateV1 } from '@wharf/proto';
import { Registry } from 'prom-client';
import { of } from 'rxjs';
import { LaunchRedelivery } from './launch-redelivery';
import type { Lookups } from './lookups';
import type { Committed, TaskLauncher } from './task-launch';

const DEF_A = 'arn:aws:ecs:us-east-1:000000000000:task-definition/a:1';
const DEF_B = 'arn:aws:ecs:us-east-1:000000000000:task-definition/b:3';

const task = (id: string, taskDefinitionArn = DEF_A) =>
  ({
    taskArn: `arn:aws:ecs:us-east-1:000000000000:task/c/${id}`,
    taskDefinitionArn,
    containerInstanceArn: `arn:aws:ecs:us-east-1:000000000000:container-instance/c/i-${id}`,
  }) as common.Task;

const launch = (t: common.Task): stateV1.StaleLaunch => ({
  task: t,
  agentAddress: `10.0.0.1:${t.taskArn.length}`,
});

describe('LaunchRedelivery', () => {
  const AFTER_MS = 60_000;
  let now: number;
  let stale: stateV1.StaleLaunch[];
  let asked: stateV1.ListStaleLaunchesRequest[];
  let told: { definition: string; committed: Committed[] }[];
  let redelivery: LaunchRedelivery;
  let registry: Registry;
  const counted = async () =>
    Object.fromEntries(
      (await registry.getSingleMetric('wharf_scheduler_stale_launches_total')!.get()).values.map(
        (v) => [v.labels.outcome, v.value],
      ),
    );

  beforeEach(() => {
    now = 1_000_000;
    stale = [];
    asked = [];
    told = [];
    registry = new Registry();
    const state = {
      listStaleLaunches: (req: stateV1.ListStaleLaunchesRequest) => {
        asked.push(req);
        return of({ launches: stale });
      },
    } as unknown as stateV1.StateServiceClient;
    const launcher = {
      startOnAgents: (_cluster: string, committed: Committed[], d: common.TaskDefinition) => {
        told.push({ definition: d.taskDefinitionArn, committed });
        // An agent at port 0 cannot be reached: the launcher stops its task.
        return Promise.resolve(
          committed.map((c) =>
            c.agentAddress.endsWith(':0') ? { ...c.task, desiredStatus: 'STOPPED' } : c.task,
          ),
        );
      },
    } as unknown as TaskLauncher;
    const lookups = {
      taskDefinition: (arn: string) => {
        if (arn === DEF_B) return Promise.reject(new Error('state unavailable'));
        return Promise.resolve({ taskDefinitionArn: arn } as common.TaskDefinition);
      },
    } as unknown as Lookups;
    redelivery = new LaunchRedelivery(
      state,
      launcher,
      lookups,
      createLogger('test', 'silent'),
      AFTER_MS,
      registry,
      () => now,
    );
  });

  it('asks for launches older than the threshold and tells their agents, by definition', async () => {
    const [one, two] = [task('1'), task('2')];
    stale = [launch(one), launch(two)];
    expect(await redelivery.sweep('c')).toBe(2);
    expect(asked).toEqual([{ cluster: 'c', createdBeforeMs: now - AFTER_MS, maxResults: 200 }]);
    expect(told).toEqual([
      {
        definition: DEF_A,
        committed: [
          { task: one, agentAddress: stale[0].agentAddress },
          { task: two, agentAddress: stale[1].agentAddress },
        ],
      },
    ]);
    expect(await counted()).toEqual({ told: 2 });
  });

  it('counts a task its launcher stopped (agent unreachable)', async () => {
    stale = [launch(task('1')), { ...launch(task('2')), agentAddress: '10.0.0.9:0' }];
    expect(await redelivery.sweep('c')).toBe(2);
    expect(await counted()).toEqual({ told: 1, stopped: 1 });
  });

  it('tells an agent about a task at most once per threshold', async () => {
    stale = [launch(task('1'))];
    await redelivery.sweep('c');
    now += AFTER_MS - 1;
    expect(await redelivery.sweep('c')).toBe(0);
    now += 1;
    expect(await redelivery.sweep('c')).toBe(1);
    expect(told).toHaveLength(2);
  });

  it('a definition it cannot read holds back only its own tasks', async () => {
    stale = [launch(task('1', DEF_B)), launch(task('2'))];
    expect(await redelivery.sweep('c')).toBe(1);
    expect(told.map((t) => t.definition)).toEqual([DEF_A]);
  });
});
