import type { common, stateV1 } from '@wharf/proto';

/**
 * proto messages → ECS JSON shapes, member names exactly as in the ECS model. Members with no
 * value are left out (no null, no ""); timestamps become epoch seconds.
 */
type Json = Record<string, unknown>;

/** proto epoch milliseconds → ECS epoch seconds; 0 (unset) → undefined. */
export const seconds = (ms: number | undefined): number | undefined => (ms ? ms / 1000 : undefined);

const nonEmpty = (s: string | undefined): string | undefined => (s ? s : undefined);

/** Drops undefined members (one level; nested shapes are built with this too). */
export function compact<T extends Json>(obj: T): T {
  const out: Json = {};
  // for…in over an object literal: its own members, without Object.entries' pair arrays (a
  // RunTask answer compacts dozens of shapes).
  for (const k in obj) if (obj[k] !== undefined) out[k] = obj[k];
  return out as T;
}

export function parseJson<T>(json: string | undefined, fallback: T): T {
  if (!json) return fallback;
  try {
    return JSON.parse(json) as T;
  } catch {
    return fallback;
  }
}

export type EcsTag = { key?: string; value?: string };

const DEFAULT_CLUSTER_SETTINGS: Json[] = [{ name: 'containerInsights', value: 'disabled' }];

/**
 * `tags` only when asked for (DescribeClusters `include: [TAGS]`, CreateCluster), as ECS;
 * likewise `settings` (`SETTINGS`) and `configuration` (`CONFIGURATIONS`, and only when one
 * was set), which the cluster-changing operations always return.
 */
export function toEcsCluster(
  c: common.Cluster,
  opts: { includeTags?: boolean; includeSettings?: boolean; includeConfigurations?: boolean } = {},
): Json {
  return compact({
    clusterArn: c.clusterArn,
    clusterName: c.clusterName,
    status: c.status || 'ACTIVE',
    registeredContainerInstancesCount: c.registeredContainerInstancesCount,
    runningTasksCount: c.runningTasksCount,
    pendingTasksCount: c.pendingTasksCount,
    activeServicesCount: c.activeServicesCount,
    statistics: [],
    tags: opts.includeTags ? parseJson<EcsTag[]>(c.tagsJson, []) : undefined,
    settings: opts.includeSettings
      ? parseJson<Json[]>(c.settingsJson, DEFAULT_CLUSTER_SETTINGS)
      : undefined,
    configuration: opts.includeConfigurations
      ? parseJson<Json | undefined>(c.configurationJson, undefined)
      : undefined,
    capacityProviders: [],
    defaultCapacityProviderStrategy: [],
  });
}

export function toEcsFailure(f: common.Failure): Json {
  return compact({ arn: nonEmpty(f.arn), reason: nonEmpty(f.reason), detail: nonEmpty(f.detail) });
}

/** The stored definition with the registration facts laid over it; `tags` travel beside it. */
export function toEcsTaskDefinition(td: common.TaskDefinition): {
  taskDefinition: Json;
  tags: EcsTag[];
} {
  // Tags are kept beside the definition (TagResource changes them), never inside it.
  const { tags: _inside, ...definition } = parseJson<Json>(td.definitionJson, {});
  const requires = definition.requiresCompatibilities as string[] | undefined;
  return {
    taskDefinition: compact({
      ...definition,
      taskDefinitionArn: td.taskDefinitionArn,
      family: td.family || (definition.family as string),
      revision: td.revision,
      status: td.status || 'ACTIVE',
      compatibilities:
        (definition.compatibilities as string[] | undefined) ??
        (requires?.length ? requires : ['EC2']),
      requiresAttributes: (definition.requiresAttributes as unknown[] | undefined) ?? [],
      registeredAt: seconds(td.registeredAt),
      deregisteredAt: seconds(td.deregisteredAt),
    }),
    tags: parseJson<EcsTag[]>(td.tagsJson, []),
  };
}

export function toEcsResources(r: common.Resources | undefined): Json[] {
  const res = r ?? { cpu: 0, memory: 0, ports: [], portsUdp: [] };
  const integer = (name: string, value: number) => ({
    name,
    type: 'INTEGER',
    doubleValue: 0,
    longValue: 0,
    integerValue: value,
  });
  const stringSet = (name: string, values: number[]) => ({
    name,
    type: 'STRINGSET',
    doubleValue: 0,
    longValue: 0,
    integerValue: 0,
    stringSetValue: values.map(String),
  });
  return [
    integer('CPU', res.cpu),
    integer('MEMORY', res.memory),
    stringSet('PORTS', res.ports),
    stringSet('PORTS_UDP', res.portsUdp),
  ];
}

export function toEcsContainerInstance(
  i: common.ContainerInstance,
  opts: { includeTags?: boolean } = {},
): Json {
  return compact({
    containerInstanceArn: i.containerInstanceArn,
    ec2InstanceId: nonEmpty(i.ec2InstanceId),
    version: i.version,
    versionInfo: compact({
      agentVersion: nonEmpty(i.agentVersion),
      dockerVersion: nonEmpty(i.dockerVersion),
    }),
    remainingResources: toEcsResources(i.remaining),
    registeredResources: toEcsResources(i.registered),
    status: i.status,
    agentConnected: i.agentConnected,
    runningTasksCount: i.runningTasksCount,
    pendingTasksCount: i.pendingTasksCount,
    attributes: i.attributes.map((a) => compact({ name: a.name, value: nonEmpty(a.value) })),
    registeredAt: seconds(i.registeredAt),
    attachments: [],
    tags: opts.includeTags ? parseJson<EcsTag[]>(i.tagsJson, []) : undefined,
  });
}

export function toEcsContainer(c: common.Container, taskArn: string): Json {
  return compact({
    containerArn: c.containerArn,
    taskArn,
    name: c.name,
    image: nonEmpty(c.image),
    runtimeId: nonEmpty(c.runtimeId),
    lastStatus: nonEmpty(c.lastStatus),
    exitCode: c.exitCode ?? undefined,
    reason: nonEmpty(c.reason),
    networkBindings: c.networkBindings.map((b) =>
      compact({
        bindIP: nonEmpty(b.bindIp),
        containerPort: b.containerPort,
        hostPort: b.hostPort,
        protocol: nonEmpty(b.protocol),
      }),
    ),
    networkInterfaces: [],
    healthStatus: nonEmpty(c.healthStatus) ?? 'UNKNOWN',
    cpu: nonEmpty(c.cpu),
    memory: nonEmpty(c.memory),
    memoryReservation: nonEmpty(c.memoryReservation),
  });
}

/** ECS lists every container in `overrides.containerOverrides`, with what was overridden. */
export function toEcsOverrides(t: common.Task): Json {
  const given = parseJson<Json>(t.overridesJson, {});
  const byName = new Map(
    ((given.containerOverrides as Json[] | undefined) ?? []).map((o) => [o.name as string, o]),
  );
  const containerOverrides = t.containers.map((c) => ({ ...byName.get(c.name), name: c.name }));
  return { ...given, containerOverrides, inferenceAcceleratorOverrides: [] };
}

export function toEcsTask(t: common.Task, opts: { includeTags?: boolean } = {}): Json {
  return compact({
    attachments: [],
    availabilityZone: nonEmpty(t.availabilityZone),
    clusterArn: t.clusterArn,
    containerInstanceArn: nonEmpty(t.containerInstanceArn),
    containers: t.containers.map((c) => toEcsContainer(c, t.taskArn)),
    cpu: String(t.cpu),
    createdAt: seconds(t.createdAt),
    desiredStatus: t.desiredStatus,
    enableExecuteCommand: false,
    executionStoppedAt: seconds(t.executionStoppedAt),
    group: nonEmpty(t.group),
    healthStatus: nonEmpty(t.healthStatus) ?? 'UNKNOWN',
    lastStatus: t.lastStatus,
    launchType: nonEmpty(t.launchType) ?? 'EC2',
    memory: String(t.memory),
    overrides: toEcsOverrides(t),
    pullStartedAt: seconds(t.pullStartedAt),
    pullStoppedAt: seconds(t.pullStoppedAt),
    startedAt: seconds(t.startedAt),
    startedBy: nonEmpty(t.startedBy),
    stopCode: nonEmpty(t.stopCode),
    stoppedAt: seconds(t.stoppedAt),
    stoppedReason: nonEmpty(t.stoppedReason),
    stoppingAt: seconds(t.stoppingAt),
    tags: opts.includeTags ? parseJson<EcsTag[]>(t.tagsJson, []) : undefined,
    taskArn: t.taskArn,
    taskDefinitionArn: t.taskDefinitionArn,
    version: t.version,
  });
}

export function toEcsDeployment(d: common.Deployment): Json {
  return compact({
    id: d.id,
    status: d.status,
    taskDefinition: d.taskDefinitionArn,
    desiredCount: d.desiredCount,
    pendingCount: d.pendingCount,
    runningCount: d.runningCount,
    failedTasks: d.failedTasks,
    createdAt: seconds(d.createdAt),
    updatedAt: seconds(d.updatedAt),
    launchType: nonEmpty(d.launchType) ?? 'EC2',
    rolloutState: nonEmpty(d.rolloutState),
    rolloutStateReason: nonEmpty(d.rolloutStateReason),
  });
}

export function toEcsServiceEvent(e: common.ServiceEvent): Json {
  return compact({ id: e.id, createdAt: seconds(e.createdAt), message: e.message });
}

/**
 * The ECS Service. Wharf's services are always deployed by the rolling update (`ECS`
 * controller), without tag propagation, managed tags or ECS Exec, so those members say so;
 * members for features Wharf lacks (roleArn, networkConfiguration, capacity providers,
 * platform, task sets) are left out. healthCheckGracePeriodSeconds is only there when set
 * (state keeps 0 for "not given", and ECS only allows it with load balancers).
 */
export function toEcsService(s: common.Service, opts: { includeTags?: boolean } = {}): Json {
  return compact({
    serviceArn: s.serviceArn,
    serviceName: s.serviceName,
    clusterArn: s.clusterArn,
    loadBalancers: parseJson<Json[]>(s.loadBalancersJson, []),
    serviceRegistries: [],
    status: s.status,
    desiredCount: s.desiredCount,
    runningCount: s.runningCount,
    pendingCount: s.pendingCount,
    launchType: nonEmpty(s.launchType) ?? 'EC2',
    taskDefinition: nonEmpty(s.taskDefinitionArn),
    deploymentConfiguration: parseJson<Json | undefined>(s.deploymentConfigurationJson, undefined),
    deployments: s.deployments.map(toEcsDeployment),
    events: s.events.map(toEcsServiceEvent),
    createdAt: seconds(s.createdAt),
    placementConstraints: parseJson<Json[]>(s.placementConstraintsJson, []),
    placementStrategy: parseJson<Json[]>(s.placementStrategyJson, []),
    healthCheckGracePeriodSeconds: s.healthCheckGracePeriodSeconds || undefined,
    schedulingStrategy: nonEmpty(s.schedulingStrategy) ?? 'REPLICA',
    deploymentController: { type: 'ECS' },
    tags: opts.includeTags ? parseJson<EcsTag[]>(s.tagsJson, []) : undefined,
    createdBy: nonEmpty(s.createdBy),
    enableECSManagedTags: false,
    propagateTags: 'NONE',
    enableExecuteCommand: false,
  });
}

/** An account setting (ECS `Setting`). */
export function toEcsSetting(s: stateV1.AccountSetting): Json {
  return compact({
    name: s.name,
    value: s.value,
    principalArn: nonEmpty(s.principalArn),
    type: nonEmpty(s.type),
  });
}

/** UpdateTaskProtection / GetTaskProtection: no `expirationDate` when not protected. */
export function toEcsProtectedTask(p: stateV1.ProtectedTask): Json {
  return compact({
    taskArn: p.taskArn,
    protectionEnabled: p.protectionEnabled,
    expirationDate: p.protectionEnabled ? seconds(p.expirationDate) : undefined,
  });
}
