import type { common } from '@wharf/proto';
import { findViolation } from './ecs-model';
import { ECS_MODEL } from './ecs-model.generated';
import {
  toEcsCluster,
  toEcsContainerInstance,
  toEcsFailure,
  toEcsService,
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
  protectedUntil: 0,
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
      tagsJson: '[]',
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
    const ecs = toEcsCluster(
      {
        clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
        clusterName: 'default',
        status: 'ACTIVE',
        registeredContainerInstancesCount: 0,
        runningTasksCount: 0,
        pendingTasksCount: 0,
        activeServicesCount: 0,
        tagsJson: '',
        settingsJson: '',
        configurationJson: '',
      },
      { includeSettings: true, includeConfigurations: true },
    );
    conforms('Cluster', ecs);
    expect(ecs).toMatchObject({
      settings: [{ name: 'containerInsights', value: 'disabled' }],
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
      tagsJson: '[{"key":"a","value":"b"}]',
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

  it('maps a service exactly as the ECS model has it: seconds, parsed shapes, deployments, events', () => {
    const service: common.Service = {
      serviceArn: 'arn:aws:ecs:us-east-1:000000000000:service/default/web',
      serviceName: 'web',
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
      status: 'ACTIVE',
      desiredCount: 3,
      runningCount: 2,
      pendingCount: 1,
      launchType: 'EC2',
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:2',
      schedulingStrategy: 'REPLICA',
      deploymentConfigurationJson: JSON.stringify({
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        deploymentCircuitBreaker: { enable: true, rollback: false },
      }),
      placementConstraintsJson: '[{"type":"distinctInstance"}]',
      placementStrategyJson: '[{"type":"binpack","field":"memory"}]',
      loadBalancersJson: '[{"targetGroupArn":"tg","containerName":"web","containerPort":80}]',
      tagsJson: '[{"key":"team","value":"a"}]',
      healthCheckGracePeriodSeconds: 30,
      deployments: [
        {
          id: 'ecs-svc/1234567890123456789',
          status: 'PRIMARY',
          taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:2',
          desiredCount: 3,
          pendingCount: 1,
          runningCount: 1,
          failedTasks: 0,
          rolloutState: 'IN_PROGRESS',
          rolloutStateReason: 'ECS deployment ecs-svc/1234567890123456789 in progress.',
          createdAt: 1_700_000_100_000,
          updatedAt: 1_700_000_150_500,
          launchType: 'EC2',
        },
        {
          id: 'ecs-svc/9876543210987654321',
          status: 'ACTIVE',
          taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
          desiredCount: 1,
          pendingCount: 0,
          runningCount: 1,
          failedTasks: 2,
          rolloutState: '',
          rolloutStateReason: '',
          createdAt: 1_700_000_000_000,
          updatedAt: 1_700_000_100_000,
          launchType: '',
        },
      ],
      events: [
        {
          id: 'e2',
          createdAt: 1_700_000_150_000,
          message: '(service web) has started 1 tasks.',
        },
      ],
      createdAt: 1_700_000_000_000,
      createdBy: '',
      version: 4,
    };
    const ecs = toEcsService(service, { includeTags: true });
    conforms('Service', ecs);
    expect(ecs).toEqual({
      serviceArn: service.serviceArn,
      serviceName: 'web',
      clusterArn: service.clusterArn,
      loadBalancers: [{ targetGroupArn: 'tg', containerName: 'web', containerPort: 80 }],
      serviceRegistries: [],
      status: 'ACTIVE',
      desiredCount: 3,
      runningCount: 2,
      pendingCount: 1,
      launchType: 'EC2',
      taskDefinition: service.taskDefinitionArn,
      deploymentConfiguration: {
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        deploymentCircuitBreaker: { enable: true, rollback: false },
      },
      deployments: [
        {
          id: 'ecs-svc/1234567890123456789',
          status: 'PRIMARY',
          taskDefinition: service.taskDefinitionArn,
          desiredCount: 3,
          pendingCount: 1,
          runningCount: 1,
          failedTasks: 0,
          createdAt: 1_700_000_100,
          updatedAt: 1_700_000_150.5,
          launchType: 'EC2',
          rolloutState: 'IN_PROGRESS',
          rolloutStateReason: 'ECS deployment ecs-svc/1234567890123456789 in progress.',
        },
        {
          id: 'ecs-svc/9876543210987654321',
          status: 'ACTIVE',
          taskDefinition: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
          desiredCount: 1,
          pendingCount: 0,
          runningCount: 1,
          failedTasks: 2,
          createdAt: 1_700_000_000,
          updatedAt: 1_700_000_100,
          launchType: 'EC2',
        },
      ],
      events: [
        { id: 'e2', createdAt: 1_700_000_150, message: '(service web) has started 1 tasks.' },
      ],
      createdAt: 1_700_000_000,
      placementConstraints: [{ type: 'distinctInstance' }],
      placementStrategy: [{ type: 'binpack', field: 'memory' }],
      healthCheckGracePeriodSeconds: 30,
      schedulingStrategy: 'REPLICA',
      deploymentController: { type: 'ECS' },
      tags: [{ key: 'team', value: 'a' }],
      enableECSManagedTags: false,
      propagateTags: 'NONE',
      enableExecuteCommand: false,
    });
    expect(ecs).not.toHaveProperty('roleArn');

    const plain = toEcsService({
      ...service,
      healthCheckGracePeriodSeconds: 0,
      placementConstraintsJson: '',
      loadBalancersJson: '',
      createdBy: 'arn:aws:iam::000000000000:user/me',
    });
    conforms('Service', plain);
    expect(plain).not.toHaveProperty('tags');
    expect(plain).not.toHaveProperty('healthCheckGracePeriodSeconds');
    expect(plain).toMatchObject({
      placementConstraints: [],
      loadBalancers: [],
      createdBy: 'arn:aws:iam::000000000000:user/me',
    });
    expect(JSON.stringify(plain)).not.toMatch(/null|""/);
  });
});
