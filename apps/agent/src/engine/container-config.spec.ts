import { InvalidParameterError } from '@wharf/domain';
import {
  buildContainerPlan,
  cpuShares,
  mergeEnvironment,
  planTask,
  startOrder,
  UnsupportedFieldError,
} from './container-config';
import { LABELS } from './labels';
import { dependencyVerdict } from './managed-task';

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
    // In host mode hostPort must be the containerPort or omitted (ECS rejects anything else).
    const hostDefinition = {
      ...definition,
      networkMode: 'host',
      containerDefinitions: definition.containerDefinitions.map((c) => ({
        ...c,
        portMappings: c.portMappings?.map((pm) => ({ ...pm, hostPort: undefined })),
      })),
    };
    const host = plan(undefined, hostDefinition);
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

describe('planTask: every field honoured or refused by name', () => {
  const one = (container: object, task: object = {}) =>
    plan(undefined, {
      family: 'web',
      containerDefinitions: [{ name: 'app', image: 'img', ...container }],
      ...task,
    });
  const refusal = (container: object, task: object = {}) => {
    try {
      one(container, task);
    } catch (err) {
      expect(err).toBeInstanceOf(UnsupportedFieldError);
      return (err as Error).message;
    }
    throw new Error('not refused');
  };

  it('maps the container fields to Docker', () => {
    const p = one({
      workingDirectory: '/srv',
      user: '1000:1000',
      memoryReservation: 16,
      hostname: 'box',
      extraHosts: [{ hostname: 'db', ipAddress: '10.0.0.5' }],
      dnsServers: ['1.1.1.1'],
      readonlyRootFilesystem: true,
      ulimits: [{ name: 'nofile', softLimit: 1024, hardLimit: 2048 }],
      logConfiguration: { logDriver: 'json-file', options: { 'max-size': '1m' } },
      portMappings: [
        { containerPort: 53, hostPort: 5353, protocol: 'udp' },
        { containerPort: 80, hostPort: 0 },
      ],
      interactive: true,
      pseudoTerminal: true,
    });
    const o = p.containers[0].createOptions;
    expect(o).toMatchObject({
      WorkingDir: '/srv',
      User: '1000:1000',
      Hostname: 'box',
      OpenStdin: true,
      Tty: true,
      ExposedPorts: { '53/udp': {}, '80/tcp': {} },
    });
    expect(o.HostConfig).toMatchObject({
      MemoryReservation: 16 * MiB,
      ExtraHosts: ['db:10.0.0.5'],
      Dns: ['1.1.1.1'],
      ReadonlyRootfs: true,
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m' } },
      PortBindings: { '53/udp': [{ HostPort: '5353' }], '80/tcp': [{ HostPort: '' }] },
    });
    expect(o.HostConfig?.Memory).toBeUndefined();
  });

  it('applies ECS health check defaults', () => {
    const hc = one({ healthCheck: { command: ['CMD', 'true'] } }).containers[0].createOptions
      .Healthcheck;
    expect(hc).toEqual({
      Test: ['CMD', 'true'],
      Interval: 30e9,
      Timeout: 5e9,
      Retries: 3,
      StartPeriod: 0,
    });
    expect(refusal({ healthCheck: { command: ['true'] } })).toMatch(/healthCheck\.command/);
  });

  it('plans dependencies, restart policy and start timeout', () => {
    const p = plan(undefined, {
      family: 'web',
      containerDefinitions: [
        {
          name: 'app',
          image: 'img',
          dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }],
          restartPolicy: { enabled: true, ignoredExitCodes: [0], restartAttemptPeriod: 60 },
          startTimeout: 20,
        },
        { name: 'init', image: 'img', essential: false },
      ],
    });
    expect(p.containers.map((c) => c.name)).toEqual(['init', 'app']);
    expect(p.containers[1]).toMatchObject({
      dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }],
      startTimeoutS: 20,
      restartPolicy: { ignoredExitCodes: [0], restartAttemptPeriodS: 60 },
    });
    expect(p.containers[0].createOptions.HostConfig?.RestartPolicy).toBeUndefined();
    // Docker's own restart policy stays off; the policy rides on a label for an adopting agent.
    expect(JSON.parse(p.containers[1].createOptions.Labels![LABELS.restartPolicy])).toEqual({
      ignoredExitCodes: [0],
      restartAttemptPeriodS: 60,
    });
    expect(refusal({ dependsOn: [{ containerName: 'ghost', condition: 'START' }] })).toMatch(
      /dependsOn\[0\]\.containerName/,
    );
    expect(refusal({ dependsOn: [{ containerName: 'app', condition: 'SOON' }] })).toMatch(
      /dependsOn\[0\]\.condition/,
    );
  });

  it('maps host and Docker volumes, mount points and volumesFrom', () => {
    const p = plan(undefined, {
      family: 'web',
      volumes: [
        { name: 'conf', host: { sourcePath: '/etc/app' } },
        { name: 'scratch', dockerVolumeConfiguration: { scope: 'task', labels: { a: 'b' } } },
        {
          name: 'cache',
          dockerVolumeConfiguration: {
            scope: 'shared',
            autoprovision: true,
            driver: 'local',
            driverOpts: { type: 'tmpfs', device: 'tmpfs' },
          },
        },
        { name: 'empty' },
      ],
      containerDefinitions: [
        {
          name: 'app',
          image: 'img',
          mountPoints: [
            { sourceVolume: 'conf', containerPath: '/conf', readOnly: true },
            { sourceVolume: 'scratch', containerPath: '/scratch' },
            { sourceVolume: 'cache', containerPath: '/cache' },
            { sourceVolume: 'empty', containerPath: '/empty' },
          ],
        },
        { name: 'reader', image: 'img', volumesFrom: [{ sourceContainer: 'app', readOnly: true }] },
      ],
    });
    expect(p.containers[0].createOptions.HostConfig?.Binds).toEqual([
      '/etc/app:/conf:ro',
      'wharf-abc123-scratch:/scratch',
      'cache:/cache',
      'wharf-abc123-empty:/empty',
    ]);
    expect(p.containers[1].createOptions.HostConfig?.VolumesFrom).toEqual([
      `${p.containers[0].dockerName}:ro`,
    ]);
    expect(p.volumes).toEqual([
      expect.objectContaining({
        dockerName: 'wharf-abc123-scratch',
        scope: 'task',
        labels: { a: 'b', [LABELS.taskArn]: TASK_ARN },
      }),
      expect.objectContaining({
        dockerName: 'cache',
        scope: 'shared',
        autoprovision: true,
        driverOpts: { type: 'tmpfs', device: 'tmpfs' },
      }),
      expect.objectContaining({ dockerName: 'wharf-abc123-empty', scope: 'task' }),
    ]);
  });

  it('applies task cpu and memory to containers without their own', () => {
    const p = one({}, { cpu: '512', memory: '0.25 GB' });
    expect(p.containers[0].createOptions.HostConfig).toMatchObject({
      Memory: 256 * MiB,
      NanoCpus: 0.5e9,
    });
    const own = one({ cpu: 128, memory: 32 }, { cpu: '512', memory: '256' });
    expect(own.containers[0].createOptions.HostConfig).toMatchObject({
      Memory: 32 * MiB,
      CpuShares: 128,
    });
    expect(own.containers[0].createOptions.HostConfig?.NanoCpus).toBeUndefined();
  });

  it('refuses what it cannot honour, naming the field', () => {
    expect(refusal({}, { networkMode: 'awsvpc' })).toMatch(
      /^UnsupportedFieldError: networkMode awsvpc/,
    );
    expect(refusal({ privileged: true })).toMatch(/containerDefinitions\[app\]\.privileged/);
    expect(refusal({ secrets: [{ name: 'x', valueFrom: 'y' }] })).toMatch(
      /containerDefinitions\[app\]\.secrets/,
    );
    expect(refusal({ logConfiguration: { logDriver: 'awslogs' } })).toMatch(
      /logConfiguration\.logDriver/,
    );
    expect(refusal({}, { taskRoleArn: 'arn:aws:iam::1:role/x' })).toMatch(/taskRoleArn/);
    expect(refusal({}, { proxyConfiguration: { type: 'APPMESH' } })).toMatch(/proxyConfiguration/);
    expect(refusal({ hostname: 'h' }, { networkMode: 'host' })).toMatch(/hostname/);
    expect(
      refusal({}, { volumes: [{ name: 'v', dockerVolumeConfiguration: { driver: 'rexray' } }] }),
    ).toMatch(/dockerVolumeConfiguration\.driver/);
    expect(refusal({ mountPoints: [{ sourceVolume: 'nope', containerPath: '/x' }] })).toMatch(
      /mountPoints\[0\]\.sourceVolume/,
    );
    expect(refusal({ portMappings: [{ containerPortRange: '1-2' }] })).toMatch(
      /containerPortRange/,
    );
    expect(refusal({ restartPolicy: { enabled: true, foo: 1 } })).toMatch(/restartPolicy\.foo/);
    expect(
      refusal({}, { runtimePlatform: { operatingSystemFamily: 'WINDOWS_SERVER_2019_CORE' } }),
    ).toMatch(/runtimePlatform\.operatingSystemFamily/);
    expect(() => one({}, { runtimePlatform: { operatingSystemFamily: 'LINUX' } })).not.toThrow();
    expect(
      refusal({ portMappings: [{ containerPort: 80, hostPort: 8080 }] }, { networkMode: 'host' }),
    ).toMatch(/portMappings\[0\]\.hostPort must equal containerPort/);
    expect(refusal({ portMappings: [{ containerPort: 80, hostIp: '127.0.0.1' }] })).toMatch(
      /portMappings\[0\]\.hostIp/,
    );
    // Empty members ask for nothing and are not refused.
    expect(() => one({ secrets: [], linuxParameters: {} })).not.toThrow();
  });

  it('allows privileged when the agent is configured to', () => {
    const p = planTask({
      taskArn: TASK_ARN,
      definitionJson: JSON.stringify({
        family: 'x',
        containerDefinitions: [{ name: 'a', image: 'img', privileged: true }],
      }),
      clusterName: 'default',
      containerInstanceArn: CI_ARN,
      defaultStopTimeoutS: 30,
      allowPrivileged: true,
    });
    expect(p.containers[0].createOptions.HostConfig?.Privileged).toBe(true);
  });
});

describe('dependencyVerdict', () => {
  const dep = (condition: 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY') => ({
    containerName: 'x',
    condition,
  });
  it('says when a condition is met, pending or impossible', () => {
    expect(dependencyVerdict(dep('START'), { status: 'RUNNING' })).toBe('met');
    expect(dependencyVerdict(dep('START'), { status: 'CREATED' })).toBe('waiting');
    expect(dependencyVerdict(dep('COMPLETE'), { status: 'STOPPED', exitCode: 3 })).toBe('met');
    expect(dependencyVerdict(dep('SUCCESS'), { status: 'STOPPED', exitCode: 0 })).toBe('met');
    expect(dependencyVerdict(dep('SUCCESS'), { status: 'STOPPED', exitCode: 1 })).toBe('never');
    expect(dependencyVerdict(dep('SUCCESS'), { status: 'RUNNING' })).toBe('waiting');
    expect(dependencyVerdict(dep('HEALTHY'), { status: 'RUNNING', healthStatus: 'UNKNOWN' })).toBe(
      'waiting',
    );
    expect(dependencyVerdict(dep('HEALTHY'), { status: 'RUNNING', healthStatus: 'HEALTHY' })).toBe(
      'met',
    );
    expect(
      dependencyVerdict(dep('HEALTHY'), { status: 'RUNNING', healthStatus: 'UNHEALTHY' }),
    ).toBe('never');
    expect(dependencyVerdict(dep('HEALTHY'), { status: 'RUNNING' })).toBe('never');
  });
});
