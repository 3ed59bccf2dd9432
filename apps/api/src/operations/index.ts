import { deleteAttributes, listAttributes, putAttributes } from './attributes.operations';
import { createCluster, describeClusters, listClusters } from './clusters.operations';
import {
  describeContainerInstances,
  listContainerInstances,
  updateContainerInstancesState,
} from './container-instances.operations';
import type { OperationHandler } from './operation-context';
import {
  createService,
  deleteService,
  describeServices,
  listServices,
  updateService,
} from './services.operations';
import { describeTaskDefinition, registerTaskDefinition } from './task-definitions.operations';
import { describeTasks, listTasks, runTask, startTask, stopTask } from './tasks.operations';

/** Every ECS operation Wharf serves, by its name in the X-Amz-Target header. */
export const OPERATIONS: Record<string, OperationHandler> = {
  CreateCluster: createCluster,
  ListClusters: listClusters,
  DescribeClusters: describeClusters,
  RegisterTaskDefinition: registerTaskDefinition,
  DescribeTaskDefinition: describeTaskDefinition,
  ListContainerInstances: listContainerInstances,
  DescribeContainerInstances: describeContainerInstances,
  UpdateContainerInstancesState: updateContainerInstancesState,
  RunTask: runTask,
  StopTask: stopTask,
  DescribeTasks: describeTasks,
  ListTasks: listTasks,
  StartTask: startTask,
  PutAttributes: putAttributes,
  DeleteAttributes: deleteAttributes,
  ListAttributes: listAttributes,
  CreateService: createService,
  UpdateService: updateService,
  DeleteService: deleteService,
  DescribeServices: describeServices,
  ListServices: listServices,
};

export type { OperationContext, OperationHandler } from './operation-context';
