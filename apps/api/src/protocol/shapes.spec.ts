import type { common } from '@wharf/proto';
import { findViolation } from './ecs-model';
import { ECS_MODEL } from './ecs-model.generated';
import {
  toEcsCluster,
  toEcsContainerInstance,
  toEcsFailure,
  toEcsTask,
  toEcsTaskDefinition,
} from './shapes';

const conforms = (shape: string, value: unknown) =>
  expect(findViolation(ECS_MODEL, shape, value, shape, { strict: true })).toBeUndefined();

const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef0123456789abcdef';
const task: common.Task = {
  taskArn,
  clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
  containerInstanceArn: 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/abc',
  lastStatus: 'STOPPED',
  desiredStatus: 'STOPPED',
  cpu: 256,
  memory: 512,
  hostPorts: [8080],
  hostPortsUdp: [],
  group: 'family:web',
  startedBy: '',
  launchType: 'EC2',
  version: 3,
  containers: [
    {
      containerArn: 'arn:aws:ecs:us-east-1:000000000000:container/default/0123/c1',
      name: 'web',
      image: 'nginx',
      runtimeId: 'deadbeef',
      lastStatus: 'STOPPED',
      exitCode: 0,
      reason: '',
      networkBindings: [{ bindIp: '0.0.0.0', containerPort: 80, hostPort: 8080, protocol: 'tcp' }],
      healthStatus: '',
      cpu: '256',
      memory: '512',
      memoryReservation: '',
      essential: true,
    },
  ],
  stopCode: 'UserInitiated',
  stoppedReason: 'Task stopped by user',
  healthStatus: '',
  overridesJson: '{"containerOverrides":[{"name":"web","command":["sh"]}]}',
  tagsJson: '[{"key":"team","value":"a"}]',
  createdAt: 1_700_000_000_500,
  pullStartedAt: 0,
  pullStoppedAt: 0,
  startedAt: 1_700_000_001_000,
  stoppingAt: 1_700_000_002_000,
  stoppedAt: 1_700_000_003_000,
  executionStoppedAt: 0,
  availabilityZone: '',
};

describe('shape mapping', () => {
  it('maps a task: seconds, strings for cpu/memory, no empty members, one override per container', () => {
    const ecs = toEcsTask(task, { includeTags: true });
    conforms('Task', ecs);
    expect(ecs).toMatchObject({
      cpu: '256',
      memory: '512',
      createdAt: 1_700_000_000.5,
      stopCode: 'UserInitiated',
      version: 3,
      tags: [{ key: 'team', value: 'a' }],
      overrides: {
        containerOverrides: [{ name: 'web', command: ['sh'] }],
        inferenceAcceleratorOverrides: [],
      },
    });
    expect(ecs).not.toHaveProperty('startedBy');
    expect(ecs).not.toHaveProperty('pullStartedAt');
    const container = (ecs.containers as Record<string, unknown>[])[0];
    expect(container).toMatchObject({
      taskArn,
      exitCode: 0,
      networkBindings: [{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 8080, protocol: 'tcp' }],
    });
    expect(container).not.toHaveProperty('reason');
    expect(container).not.toHaveProperty('memoryReservation');
    expect(JSON.stringify(ecs)).not.toMatch(/null|""/);
    expect(toEcsTask(task)).not.toHaveProperty('tags');
  });

  it('maps a container instance with ECS resources', () => {
    const ecs = toEcsContainerInstance({
      containerInstanceArn: 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/abc',
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
      ec2InstanceId: '',
      status: 'ACTIVE',
      agentConnected: true,
      registered: { cpu: 2048, memory: 4000, ports: [22, 2375], portsUdp: [] },
      remaining: { cpu: 1024, memory: 3000, ports: [22, 2375, 8080], portsUdp: [] },
      runningTasksCount: 1,
      pendingTasksCount: 0,
      attributes: [{ name: 'ecs.os-type', value: 'linux' }],
      agentVersion: '0.1.0',
      dockerVersion: '',
      agentAddress: '10.0.0.2:4703',
      registeredAt: 1_700_000_000_000,
      version: 7,
      lastHeartbeatAt: 0,
      hostname: 'h',
      hostAddress: '10.0.0.2',
      taskGroups: [{ group: 'family:web', count: 1 }],
    });
    conforms('ContainerInstance', ecs);
    expect(ecs.remainingResources).toEqual([
      { name: 'CPU', type: 'INTEGER', doubleValue: 0, longValue: 0, integerValue: 1024 },
      { name: 'MEMORY', type: 'INTEGER', doubleValue: 0, longValue: 0, integerValue: 3000 },
      {
        name: 'PORTS',
        type: 'STRINGSET',
        doubleValue: 0,
        longValue: 0,
        integerValue: 0,
        stringSetValue: ['22', '2375', '8080'],
      },
      {
        name: 'PORTS_UDP',
        type: 'STRINGSET',
        doubleValue: 0,
        longValue: 0,
        integerValue: 0,
        stringSetValue: [],
      },
    ]);
    expect(ecs).toMatchObject({
      registeredAt: 1_700_000_000,
      versionInfo: { agentVersion: '0.1.0' },
    });
    expect(ecs).not.toHaveProperty('ec2InstanceId');
  });

  it('maps a cluster with the defaults ECS returns', () => {
    const ecs = toEcsCluster({
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
      clusterName: 'default',
      status: 'ACTIVE',
      registeredContainerInstancesCount: 0,
      runningTasksCount: 0,
      pendingTasksCount: 0,
      activeServicesCount: 0,
      tagsJson: '',
    });
    conforms('Cluster', ecs);
    expect(ecs).toMatchObject({
      settings: [{ name: 'containerInsights', value: 'disabled' }],
      tags: [],
      statistics: [],
      capacityProviders: [],
      defaultCapacityProviderStrategy: [],
    });
  });

  it('maps a task definition, moving tags beside it', () => {
    const { taskDefinition, tags } = toEcsTaskDefinition({
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:2',
      family: 'web',
      revision: 2,
      status: 'ACTIVE',
      definitionJson: JSON.stringify({
        family: 'web',
        containerDefinitions: [{ name: 'web', image: 'nginx', memory: 128, essential: true }],
        tags: [{ key: 'a', value: 'b' }],
      }),
      registeredAt: 1_700_000_000_000,
      deregisteredAt: 0,
    });
    conforms('TaskDefinition', taskDefinition);
    expect(taskDefinition).toMatchObject({
      revision: 2,
      compatibilities: ['EC2'],
      registeredAt: 1_700_000_000,
    });
    expect(taskDefinition).not.toHaveProperty('tags');
    expect(taskDefinition).not.toHaveProperty('deregisteredAt');
    expect(tags).toEqual([{ key: 'a', value: 'b' }]);
  });

  it('leaves empty failure members out', () => {
    expect(toEcsFailure({ arn: 'x', reason: 'MISSING', detail: '' })).toEqual({
      arn: 'x',
      reason: 'MISSING',
    });
  });
});
