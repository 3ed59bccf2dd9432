import { buildTaskReport, networkBindingsOf, pullErrorReason } from './task-report';

const base = {
  clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
  containerInstanceArn: 'ci',
  taskArn: 't',
};

describe('buildTaskReport', () => {
  it('reports a RUNNING task with bindings and no stop fields', () => {
    const report = buildTaskReport({
      ...base,
      knownStatus: 'RUNNING',
      stopCode: 'UserInitiated',
      pullStartedAt: 1,
      pullStoppedAt: 2,
      startedAt: 3,
      containers: [
        {
          name: 'app',
          runtimeId: 'abc',
          status: 'RUNNING',
          networkBindings: [
            { bindIP: '0.0.0.0', containerPort: 80, hostPort: 8080, protocol: 'tcp' },
          ],
        },
        { name: 'init', runtimeId: 'def', status: 'CREATED', networkBindings: [] },
      ],
    });
    expect(report).toEqual({
      v: 1,
      ...base,
      lastStatus: 'RUNNING',
      pullStartedAt: 1,
      pullStoppedAt: 2,
      startedAt: 3,
      containers: [
        {
          name: 'app',
          runtimeId: 'abc',
          lastStatus: 'RUNNING',
          networkBindings: [
            { bindIP: '0.0.0.0', containerPort: 80, hostPort: 8080, protocol: 'tcp' },
          ],
        },
        { name: 'init', runtimeId: 'def', lastStatus: 'PENDING' },
      ],
    });
  });

  it('reports a STOPPED task with exit codes and the reason', () => {
    const report = buildTaskReport({
      ...base,
      knownStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      stoppedAt: 9,
      containers: [{ name: 'app', status: 'STOPPED', exitCode: 3, networkBindings: [] }],
    });
    expect(report).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      stoppedAt: 9,
      containers: [{ name: 'app', runtimeId: '', lastStatus: 'STOPPED', exitCode: 3 }],
    });
  });

  it('reports NONE as PENDING', () => {
    expect(buildTaskReport({ ...base, knownStatus: 'NONE', containers: [] }).lastStatus).toBe(
      'PENDING',
    );
  });
});

describe('networkBindingsOf', () => {
  it('reads what Docker bound, IPv4 only', () => {
    expect(
      networkBindingsOf('bridge', [], {
        '80/tcp': [
          { HostIp: '0.0.0.0', HostPort: '32768' },
          { HostIp: '::', HostPort: '32768' },
        ],
        '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }],
        '9000/tcp': null,
      }),
    ).toEqual([
      { bindIP: '0.0.0.0', containerPort: 53, hostPort: 5353, protocol: 'udp' },
      { bindIP: '0.0.0.0', containerPort: 80, hostPort: 32768, protocol: 'tcp' },
    ]);
  });

  it('uses the container ports in host mode', () => {
    expect(
      networkBindingsOf('host', [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }], undefined),
    ).toEqual([{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 80, protocol: 'tcp' }]);
  });
});

it('phrases pull errors as ECS does', () => {
  expect(pullErrorReason('x:1', new Error('(HTTP code 404) unexpected - no such host'))).toBe(
    'CannotPullContainerError: pull image x:1: no such host',
  );
});
