import { InvalidParameterError } from '@wharf/domain';
import {
  buildContainerPlan,
  cpuShares,
  mergeEnvironment,
  planTask,
  startOrder,
} from './container-config';
import { LABELS } from './labels';

const TASK_ARN = 'arn:aws:ecs:us-east-1:000000000000:task/default/abc123';
const CI_ARN = 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/ci1';
const MiB = 1024 * 1024;

const definition = {
  family: 'web',
  revision: 3,
  networkMode: 'bridge',
  containerDefinitions: [
    {
      name: 'app',
      image: 'wharf/busybox:dev',
      cpu: 256,
      memory: 64,
      memoryReservation: 32,
      command: ['sleep', '300'],
      entryPoint: ['/bin/sh', '-c'],
      environment: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
      ],
      portMappings: [
        { containerPort: 80, hostPort: 8080 },
        { containerPort: 53, protocol: 'udp' },
      ],
      dockerLabels: { team: 'x', 'com.wharf.task-arn': 'spoofed' },
      dependsOn: [{ containerName: 'sidecar', condition: 'START' }],
    },
    { name: 'sidecar', image: 'wharf/busybox:dev', essential: false, stopTimeout: 5 },
  ],
};

function plan(overrides?: unknown, def: object = definition) {
  return planTask({
    taskArn: TASK_ARN,
    definitionJson: JSON.stringify(def),
    overridesJson: overrides ? JSON.stringify(overrides) : '',
    family: 'web',
    revision: 3,
    clusterName: 'default',
    containerInstanceArn: CI_ARN,
    defaultStopTimeoutS: 30,
  });
}

describe('planTask', () => {
  it('builds Docker create options from the definition', () => {
    const p = plan();
    expect(p.taskId).toBe('abc123');
    expect(p.containers.map((c) => c.name)).toEqual(['sidecar', 'app']);
    const app = p.containers[1];
    const o = app.createOptions;
    expect(o.name).toBe('wharf-web-3-app-abc123');
    expect(o.Image).toBe('wharf/busybox:dev');
    expect(o.Cmd).toEqual(['sleep', '300']);
    expect(o.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(o.Env).toEqual(['A=1', 'B=2']);
    expect(o.HostConfig).toMatchObject({
      NetworkMode: 'bridge',
      CpuShares: 256,
      Memory: 64 * MiB,
      MemoryReservation: 32 * MiB,
      PortBindings: { '80/tcp': [{ HostPort: '8080' }], '53/udp': [{ HostPort: '' }] },
    });
    expect(o.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
    expect(app.portMappings).toEqual([
      { containerPort: 80, hostPort: 8080, protocol: 'tcp' },
      { containerPort: 53, hostPort: 0, protocol: 'udp' },
    ]);
    expect(app.essential).toBe(true);
    expect(app.stopTimeoutS).toBe(30);
    expect(o.Labels).toMatchObject({
      team: 'x',
      [LABELS.taskArn]: TASK_ARN,
      [LABELS.containerName]: 'app',
      [LABELS.cluster]: 'default',
      [LABELS.containerInstanceArn]: CI_ARN,
    });
    const side = p.containers[0];
    expect(side.essential).toBe(false);
    expect(side.stopTimeoutS).toBe(5);
    expect(side.createOptions.HostConfig?.Memory).toBeUndefined();
    expect(side.createOptions.HostConfig?.CpuShares).toBeUndefined();
  });

  it('applies container overrides', () => {
    const p = plan({
      containerOverrides: [
        {
          name: 'app',
          command: ['echo', 'hi'],
          environment: [
            { name: 'B', value: 'over' },
            { name: 'C', value: '3' },
          ],
          cpu: 1,
          memory: 128,
        },
      ],
    });
    const o = p.containers[1].createOptions;
    expect(o.Cmd).toEqual(['echo', 'hi']);
    expect(o.Env).toEqual(['A=1', 'B=over', 'C=3']);
    expect(o.HostConfig?.CpuShares).toBe(2);
    expect(o.HostConfig?.Memory).toBe(128 * MiB);
    expect(p.containers[0].createOptions.Cmd).toBeUndefined();
  });

  it('host mode binds the container port itself; none has no ports', () => {
    const host = plan(undefined, { ...definition, networkMode: 'host' });
    expect(host.containers[1].portMappings[0]).toEqual({
      containerPort: 80,
      hostPort: 80,
      protocol: 'tcp',
    });
    expect(host.containers[1].createOptions.HostConfig?.PortBindings).toEqual({});
    const none = plan(undefined, { ...definition, networkMode: 'none' });
    expect(none.containers[1].portMappings).toEqual([]);
    expect(none.networkMode).toBe('none');
  });

  it('rejects malformed input', () => {
    expect(() =>
      planTask({
        taskArn: TASK_ARN,
        definitionJson: '{',
        clusterName: 'default',
        containerInstanceArn: CI_ARN,
        defaultStopTimeoutS: 30,
      }),
    ).toThrow(InvalidParameterError);
    expect(() => plan(undefined, { family: 'x', containerDefinitions: [] })).toThrow(
      InvalidParameterError,
    );
    expect(() => plan(undefined, { family: 'x', containerDefinitions: [{ name: 'a' }] })).toThrow(
      /no image/,
    );
  });

  it('turns a health check into Docker nanoseconds', () => {
    const p = buildContainerPlan(
      { name: 'a', image: 'i', healthCheck: { command: ['CMD', 'true'], interval: 10 } },
      undefined,
      {
        taskArn: TASK_ARN,
        taskId: 'abc',
        family: 'f',
        revision: 1,
        clusterName: 'c',
        containerInstanceArn: CI_ARN,
        networkMode: 'bridge',
        defaultStopTimeoutS: 30,
      },
    );
    expect(p.hasHealthCheck).toBe(true);
    expect(p.createOptions.Healthcheck).toEqual({
      Test: ['CMD', 'true'],
      Interval: 10e9,
      Timeout: 5e9,
      Retries: 3,
      StartPeriod: 0,
    });
  });
});

describe('helpers', () => {
  it('cpuShares has a floor of 2', () => {
    expect(cpuShares(undefined)).toBeUndefined();
    expect(cpuShares(0)).toBe(2);
    expect(cpuShares(1)).toBe(2);
    expect(cpuShares(512)).toBe(512);
  });
  it('mergeEnvironment lets later lists win', () => {
    expect(mergeEnvironment([{ name: 'X', value: '1' }], [{ name: 'X', value: '2' }])).toEqual([
      'X=2',
    ]);
  });
  it('startOrder survives cycles', () => {
    const defs = [
      { name: 'a', dependsOn: [{ containerName: 'b', condition: 'START' as const }] },
      { name: 'b', dependsOn: [{ containerName: 'a', condition: 'START' as const }] },
    ];
    expect(startOrder(defs).map((d) => d.name)).toHaveLength(2);
  });
});
