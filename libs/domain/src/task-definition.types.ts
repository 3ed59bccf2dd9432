/** The ECS task definition shape (member names exactly as in the ECS API model). */

export interface KeyValuePair {
  name?: string;
  value?: string;
}

export interface PortMapping {
  containerPort?: number;
  hostPort?: number;
  protocol?: 'tcp' | 'udp';
  name?: string;
  appProtocol?: string;
  containerPortRange?: string;
}

export interface ContainerDependency {
  containerName: string;
  condition: 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY';
}

export interface HealthCheck {
  command: string[];
  interval?: number;
  timeout?: number;
  retries?: number;
  startPeriod?: number;
}

export interface MountPoint {
  sourceVolume?: string;
  containerPath?: string;
  readOnly?: boolean;
}

export interface ContainerDefinition {
  name?: string;
  image?: string;
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
  links?: string[];
  portMappings?: PortMapping[];
  essential?: boolean;
  entryPoint?: string[];
  command?: string[];
  environment?: KeyValuePair[];
  mountPoints?: MountPoint[];
  volumesFrom?: { sourceContainer?: string; readOnly?: boolean }[];
  dependsOn?: ContainerDependency[];
  startTimeout?: number;
  stopTimeout?: number;
  hostname?: string;
  user?: string;
  workingDirectory?: string;
  disableNetworking?: boolean;
  privileged?: boolean;
  readonlyRootFilesystem?: boolean;
  dnsServers?: string[];
  extraHosts?: { hostname: string; ipAddress: string }[];
  dockerLabels?: Record<string, string>;
  ulimits?: { name: string; softLimit: number; hardLimit: number }[];
  logConfiguration?: { logDriver: string; options?: Record<string, string> };
  healthCheck?: HealthCheck;
  [other: string]: unknown;
}

export interface Volume {
  name?: string;
  host?: { sourcePath?: string };
  dockerVolumeConfiguration?: Record<string, unknown>;
}

export interface PlacementConstraint {
  type?: 'memberOf' | 'distinctInstance';
  expression?: string;
}

export type NetworkMode = 'bridge' | 'host' | 'awsvpc' | 'none';

export interface TaskDefinitionInput {
  family: string;
  containerDefinitions: ContainerDefinition[];
  taskRoleArn?: string;
  executionRoleArn?: string;
  networkMode?: NetworkMode;
  volumes?: Volume[];
  placementConstraints?: PlacementConstraint[];
  requiresCompatibilities?: string[];
  cpu?: string;
  memory?: string;
  tags?: { key?: string; value?: string }[];
  pidMode?: string;
  ipcMode?: string;
  [other: string]: unknown;
}

/** A registered task definition as DescribeTaskDefinition returns it. */
export interface TaskDefinition extends Omit<TaskDefinitionInput, 'tags'> {
  taskDefinitionArn: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE' | 'DELETE_IN_PROGRESS';
  compatibilities: string[];
  requiresAttributes: { name: string; value?: string; targetType?: string; targetId?: string }[];
  registeredAt?: number;
  deregisteredAt?: number;
}
