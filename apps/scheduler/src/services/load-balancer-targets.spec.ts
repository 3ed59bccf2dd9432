import type { common, stateV1 } from '@wharf/proto';
import { targetsOfTask, taskTargetHealth } from './load-balancer-targets';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef';
const INSTANCE = 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/i-1';

function task(more: Partial<common.Task> = {}): common.Task {
  return {
    taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/default/t1',
    containerInstanceArn: INSTANCE,
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    containers: [
      {
        name: 'web',
        networkBindings: [
          { bindIp: '0.0.0.0', containerPort: 8080, hostPort: 32768, protocol: 'tcp' },
          { bindIp: '0.0.0.0', containerPort: 9090, hostPort: 32769, protocol: 'udp' },
        ],
      },
    ],
    ...more,
  } as common.Task;
}

const view = {
  record: (arn: string) =>
    arn === INSTANCE
      ? ({
          ec2InstanceId: 'i-1',
          hostAddress: '10.0.0.7',
          hostname: 'host-1',
        } as common.ContainerInstance)
      : undefined,
};

describe('targetsOfTask', () => {
  it('registers the host port its container port is published on, at the host address', () => {
    const lbs = [{ targetGroupArn: TG, containerName: 'web', containerPort: 8080 }];
    expect(targetsOfTask(task(), lbs, view)).toEqual([
      { targetGroupArn: TG, id: 'i-1', port: 32768, host: '10.0.0.7', taskArn: task().taskArn },
    ]);
  });

  it('has none before RUNNING, once asked to stop, for a udp or unknown port or container', () => {
    const lbs = [{ targetGroupArn: TG, containerName: 'web', containerPort: 8080 }];
    expect(targetsOfTask(task({ lastStatus: 'PENDING' }), lbs, view)).toEqual([]);
    expect(targetsOfTask(task({ desiredStatus: 'STOPPED' }), lbs, view)).toEqual([]);
    for (const lb of [
      { targetGroupArn: TG, containerName: 'web', containerPort: 9090 },
      { targetGroupArn: TG, containerName: 'web', containerPort: 1 },
      { targetGroupArn: TG, containerName: 'other', containerPort: 8080 },
    ]) {
      expect(targetsOfTask(task(), [lb], view)).toEqual([]);
    }
    expect(targetsOfTask(task({ containerInstanceArn: 'gone' }), lbs, view)).toEqual([]);
  });
});

describe('taskTargetHealth', () => {
  const target = (taskArn: string, state: string, group = TG) =>
    ({ taskArn, state, targetGroupArn: group }) as stateV1.LbTarget;

  it('is healthy only when every target of the task is, unhealthy when any is', () => {
    const health = taskTargetHealth([
      target('a', 'healthy'),
      target('a', 'healthy', 'other'),
      target('b', 'healthy'),
      target('b', 'initial', 'other'),
      target('c', 'unhealthy'),
      target('c', 'healthy', 'other'),
      target('d', 'healthy'),
      target('d', 'unhealthy', 'other'),
      target('e', 'draining'),
    ]);
    expect(Object.fromEntries(health)).toEqual({
      a: 'healthy',
      b: 'initial',
      c: 'unhealthy',
      d: 'unhealthy',
    });
  });
});
