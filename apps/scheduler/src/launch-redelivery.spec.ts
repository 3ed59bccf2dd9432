import { createLogger } from '@wharf/observability';
import type { agentV1, common, stateV1 } from '@wharf/proto';
import { Registry } from 'prom-client';
import { of } from 'rxjs';
import type { AgentClients } from './agent-clients';
import { LaunchRedelivery } from './launch-redelivery';
import type { Lookups } from './lookups';

const DEF_A = 'arn:aws:ecs:us-east-1:000000000000:task-definition/a:1';
const DEF_GONE = 'arn:aws:ecs:us-east-1:000000000000:task-definition/gone:3';
const UNREACHABLE = '10.0.0.9:4703';

const task = (id: string, taskDefinitionArn = DEF_A) =>
  ({
    taskArn: `arn:aws:ecs:us-east-1:000000000000:task/c/${id}`,
    taskDefinitionArn,
    containerInstanceArn: `arn:aws:ecs:us-east-1:000000000000:container-instance/c/i-${id}`,
  }) as common.Task;

const launch = (t: common.Task, agentAddress = '10.0.0.1:4703'): stateV1.StaleLaunch => ({
  task: t,
  agentAddress,
});

describe('LaunchRedelivery', () => {
  const AFTER_MS = 60_000;
  let now: number;
  /** The pages state answers, in turn. */
  let pages: stateV1.ListStaleLaunchesResponse[];
  let asked: stateV1.ListStaleLaunchesRequest[];
  let told: { address: string; request: agentV1.StartTaskRequest }[];
  let redelivery: LaunchRedelivery;
  let registry: Registry;
  const counted = async () =>
    Object.fromEntries(
      (await registry.getSingleMetric('wharf_scheduler_stale_launches_total')!.get()).values.map(
        (v) => [v.labels.outcome, v.value],
      ),
    );
  const onePage = (...launches: stateV1.StaleLaunch[]) => [{ launches, nextToken: '' }];

  beforeEach(() => {
    now = 1_000_000;
    pages = [];
    asked = [];
    told = [];
    registry = new Registry();
    const state = {
      listStaleLaunches: (req: stateV1.ListStaleLaunchesRequest) => {
        asked.push(req);
        return of(pages.shift() ?? { launches: [], nextToken: '' });
      },
    } as unknown as stateV1.StateServiceClient;
    const agents = {
      startTask: async (
        address: string,
        request: agentV1.StartTaskRequest,
      ): Promise<agentV1.StartTaskResponse> => {
        if (address === UNREACHABLE) throw new Error('14 UNAVAILABLE: connect ECONNREFUSED');
        told.push({ address, request });
        return { accepted: true };
      },
    } as unknown as AgentClients;
    const lookups = {
      taskDefinition: (arn: string) =>
        arn === DEF_GONE
          ? Promise.reject(new Error('5 NOT_FOUND: Unable to describe task definition.'))
          : Promise.resolve({ taskDefinitionArn: arn, family: 'a' } as common.TaskDefinition),
    } as unknown as Lookups;
    redelivery = new LaunchRedelivery(
      state,
      agents,
      lookups,
      createLogger('test', 'silent'),
      { afterMs: AFTER_MS, callTimeoutMs: 1_000 },
      registry,
      () => now,
    );
  });

  it('asks for launches older than the threshold and sends each its StartTask again', async () => {
    const [one, two] = [task('1'), task('2')];
    pages = onePage(launch(one), launch(two, '10.0.0.2:4703'));
    expect(await redelivery.sweep('c')).toBe(2);
    expect(asked).toEqual([
      { cluster: 'c', olderThanMs: AFTER_MS, maxResults: 200, nextToken: '' },
    ]);
    expect(told.map((t) => [t.address, t.request.task?.taskArn])).toEqual([
      ['10.0.0.1:4703', one.taskArn],
      ['10.0.0.2:4703', two.taskArn],
    ]);
    expect(told[0].request.taskDefinition?.taskDefinitionArn).toBe(DEF_A);
    expect(await counted()).toEqual({ told: 2 });
  });

  it('never stops a task: an agent it cannot reach, or a definition it cannot read, is counted and tried later', async () => {
    pages = onePage(launch(task('1'), UNREACHABLE), launch(task('2', DEF_GONE)), launch(task('3')));
    expect(await redelivery.sweep('c')).toBe(1);
    expect(await counted()).toEqual({ told: 1, failed: 2 });
  });

  it('tells an agent about a task at most once per threshold', async () => {
    const again = () => (pages = onePage(launch(task('1'))));
    again();
    await redelivery.sweep('c');
    now += AFTER_MS - 1;
    again();
    expect(await redelivery.sweep('c')).toBe(0);
    now += 1;
    again();
    expect(await redelivery.sweep('c')).toBe(1);
    expect(told).toHaveLength(2);
  });

  it('reads on from where the last sweep stopped, and starts over after the last page', async () => {
    pages = [
      { launches: [launch(task('1'))], nextToken: 'after-1' },
      { launches: [launch(task('2'))], nextToken: '' },
      { launches: [], nextToken: '' },
    ];
    await redelivery.sweep('c');
    await redelivery.sweep('c');
    await redelivery.sweep('c');
    expect(asked.map((a) => a.nextToken)).toEqual(['', 'after-1', '']);
    expect(told.map((t) => t.request.task?.taskArn)).toEqual([
      task('1').taskArn,
      task('2').taskArn,
    ]);
  });
});
