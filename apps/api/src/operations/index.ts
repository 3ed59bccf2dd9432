import {
  deleteAccountSetting,
  listAccountSettings,
  putAccountSetting,
  putAccountSettingDefault,
} from './account-settings.operations';
import { deleteAttributes, listAttributes, putAttributes } from './attributes.operations';
import {
  createCluster,
  deleteCluster,
  describeClusters,
  listClusters,
  updateCluster,
  updateClusterSettings,
} from './clusters.operations';
import {
  deregisterContainerInstance,
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
import {
  deleteTaskDefinitions,
  deregisterTaskDefinition,
  describeTaskDefinition,
  listTaskDefinitionFamilies,
  listTaskDefinitions,
  registerTaskDefinition,
} from './task-definitions.operations';
import { getTaskProtection, updateTaskProtection } from './task-protection.operations';
import { listTagsForResource, tagResource, untagResource } from './tags.operations';
import { describeTasks, listTasks, runTask, startTask, stopTask } from './tasks.operations';

/** Every ECS operation Wharf serves, by its name in the X-Amz-Target header. */
export const OPERATIONS: Record<string, OperationHandler> = {
  CreateCluster: createCluster,
  ListClusters: listClusters,
  DescribeClusters: describeClusters,
  DeleteCluster: deleteCluster,
  UpdateCluster: updateCluster,
  UpdateClusterSettings: updateClusterSettings,
  DeregisterTaskDefinition: deregisterTaskDefinition,
  DeleteTaskDefinitions: deleteTaskDefinitions,
  ListTaskDefinitions: listTaskDefinitions,
  ListTaskDefinitionFamilies: listTaskDefinitionFamilies,
  RegisterTaskDefinition: registerTaskDefinition,
  DescribeTaskDefinition: describeTaskDefinition,
  ListContainerInstances: listContainerInstances,
  DescribeContainerInstances: describeContainerInstances,
  UpdateContainerInstancesState: updateContainerInstancesState,
  DeregisterContainerInstance: deregisterContainerInstance,
  UpdateTaskProtection: updateTaskProtection,
  GetTaskProtection: getTaskProtection,
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
  TagResource: tagResource,
  UntagResource: untagResource,
  ListTagsForResource: listTagsForResource,
  ListAccountSettings: listAccountSettings,
  PutAccountSetting: putAccountSetting,
  PutAccountSettingDefault: putAccountSettingDefault,
  DeleteAccountSetting: deleteAccountSetting,
};

export type { OperationContext, OperationHandler } from './operation-context';
