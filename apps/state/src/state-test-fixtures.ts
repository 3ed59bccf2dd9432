/**
 * For state's integration specs: empty records to spread placements' tasks from. Not part of
 * the service.
 */
import type { common } from '@wharf/proto';

/** A task with every field empty (what a placement leaves out, state fills in). */
export const EMPTY_TASK: common.Task = {
  taskArn: '',
  clusterArn: '',
  taskDefinitionArn: '',
  containerInstanceArn: '',
  lastStatus: '',
  desiredStatus: '',
  cpu: 0,
  memory: 0,
  hostPorts: [],
  hostPortsUdp: [],
  group: '',
  startedBy: '',
  launchType: '',
  version: 0,
  containers: [],
  stopCode: '',
  stoppedReason: '',
  healthStatus: '',
  overridesJson: '',
  tagsJson: '',
  createdAt: 0,
  pullStartedAt: 0,
  pullStoppedAt: 0,
  startedAt: 0,
  stoppingAt: 0,
  stoppedAt: 0,
  executionStoppedAt: 0,
  availabilityZone: '',
  protectedUntil: 0,
};

/** A container with every field empty. */
export const EMPTY_CONTAINER: common.Container = {
  containerArn: '',
  name: '',
  image: '',
  runtimeId: '',
  lastStatus: '',
  reason: '',
  networkBindings: [],
  healthStatus: '',
  cpu: '',
  memory: '',
  memoryReservation: '',
  essential: false,
};
