import { Controller, Inject } from '@nestjs/common';
import { common, stateV1 } from '@wharf/proto';
import { ChangeAttributesUseCase } from './change-attributes.use-case';
import { ClientTokensUseCase } from './client-tokens.use-case';
import { CommitPlacementsUseCase } from './commit-placements.use-case';
import { CreateClusterUseCase } from './create-cluster.use-case';
import { CreateServiceUseCase } from './create-service.use-case';
import { DeleteClusterUseCase } from './delete-cluster.use-case';
import { DeleteTaskDefinitionsUseCase } from './delete-task-definitions.use-case';
import { DeregisterTaskDefinitionUseCase } from './deregister-task-definition.use-case';
import { TaskDefinitionQueries } from './task-definition.queries';
import { UpdateClusterUseCase } from './update-cluster.use-case';
import { DeleteLbResourceUseCase } from './delete-lb-resource.use-case';
import { DeleteServiceUseCase } from './delete-service.use-case';
import { DeregisterContainerInstanceUseCase } from './deregister-container-instance.use-case';
import { DeregisterTargetsUseCase } from './deregister-targets.use-case';
import { GetTaskProtectionQuery } from './get-task-protection.query';
import { GetUtilisationQuery } from './get-utilisation.query';
import { LbQueries } from './lb.queries';
import { AccessKeysUseCase } from './access-keys.use-case';
import { JoinTokensUseCase } from './join-tokens.use-case';
import { AccountSettingsUseCase } from './account-settings.use-case';
import { ResourceTagsUseCase } from './resource-tags.use-case';
import { LeasesUseCase } from './leases.use-case';
import { ListAttributesQuery } from './list-attributes.query';
import { MarkInstanceTasksLostUseCase } from './mark-instance-tasks-lost.use-case';
import { MarkTaskStoppingUseCase } from './mark-task-stopping.use-case';
import { PutLbResourceUseCase } from './put-lb-resource.use-case';
import { RecordServiceProgressUseCase } from './record-service-progress.use-case';
import { RegisterContainerInstanceUseCase } from './register-container-instance.use-case';
import { RegisterTargetsUseCase } from './register-targets.use-case';
import { RegisterTaskDefinitionUseCase } from './register-task-definition.use-case';
import { ReportTargetHealthUseCase } from './report-target-health.use-case';
import { ServiceQueries } from './service.queries';
import { StateQueries } from './state.queries';
import { UpdateContainerInstancesStateUseCase } from './update-container-instances-state.use-case';
import { UpdateServiceUseCase } from './update-service.use-case';
import { UpdateTaskProtectionUseCase } from './update-task-protection.use-case';

/** gRPC transport only: every method hands its request to a use case or a query. */
@Controller()
@stateV1.StateServiceControllerMethods()
export class StateController implements stateV1.StateServiceController {
  constructor(
    @Inject(StateQueries) private readonly queries: StateQueries,
    @Inject(CreateClusterUseCase) private readonly createClusterUseCase: CreateClusterUseCase,
    @Inject(RegisterTaskDefinitionUseCase)
    private readonly registerTaskDefinitionUseCase: RegisterTaskDefinitionUseCase,
    @Inject(RegisterContainerInstanceUseCase)
    private readonly registerContainerInstanceUseCase: RegisterContainerInstanceUseCase,
    @Inject(UpdateContainerInstancesStateUseCase)
    private readonly updateContainerInstancesStateUseCase: UpdateContainerInstancesStateUseCase,
    @Inject(CommitPlacementsUseCase)
    private readonly commitPlacementsUseCase: CommitPlacementsUseCase,
    @Inject(MarkTaskStoppingUseCase)
    private readonly markTaskStoppingUseCase: MarkTaskStoppingUseCase,
    @Inject(MarkInstanceTasksLostUseCase)
    private readonly markInstanceTasksLostUseCase: MarkInstanceTasksLostUseCase,
    @Inject(GetUtilisationQuery) private readonly getUtilisationQuery: GetUtilisationQuery,
    @Inject(ChangeAttributesUseCase)
    private readonly changeAttributesUseCase: ChangeAttributesUseCase,
    @Inject(ListAttributesQuery) private readonly listAttributesQuery: ListAttributesQuery,
    @Inject(ClientTokensUseCase) private readonly clientTokens: ClientTokensUseCase,
    @Inject(CreateServiceUseCase) private readonly createServiceUseCase: CreateServiceUseCase,
    @Inject(UpdateServiceUseCase) private readonly updateServiceUseCase: UpdateServiceUseCase,
    @Inject(DeleteServiceUseCase) private readonly deleteServiceUseCase: DeleteServiceUseCase,
    @Inject(ServiceQueries) private readonly serviceQueries: ServiceQueries,
    @Inject(RecordServiceProgressUseCase)
    private readonly recordServiceProgressUseCase: RecordServiceProgressUseCase,
    @Inject(LeasesUseCase) private readonly leases: LeasesUseCase,
    @Inject(DeleteClusterUseCase) private readonly deleteClusterUseCase: DeleteClusterUseCase,
    @Inject(UpdateClusterUseCase) private readonly updateClusterUseCase: UpdateClusterUseCase,
    @Inject(DeregisterTaskDefinitionUseCase)
    private readonly deregisterTaskDefinitionUseCase: DeregisterTaskDefinitionUseCase,
    @Inject(DeleteTaskDefinitionsUseCase)
    private readonly deleteTaskDefinitionsUseCase: DeleteTaskDefinitionsUseCase,
    @Inject(TaskDefinitionQueries) private readonly taskDefinitionQueries: TaskDefinitionQueries,
    @Inject(AccessKeysUseCase) private readonly accessKeys: AccessKeysUseCase,
    @Inject(JoinTokensUseCase) private readonly joinTokens: JoinTokensUseCase,
    @Inject(ResourceTagsUseCase) private readonly resourceTags: ResourceTagsUseCase,
    @Inject(AccountSettingsUseCase) private readonly accountSettings: AccountSettingsUseCase,
    @Inject(PutLbResourceUseCase) private readonly putLbResourceUseCase: PutLbResourceUseCase,
    @Inject(DeleteLbResourceUseCase)
    private readonly deleteLbResourceUseCase: DeleteLbResourceUseCase,
    @Inject(LbQueries) private readonly lbQueries: LbQueries,
    @Inject(RegisterTargetsUseCase)
    private readonly registerTargetsUseCase: RegisterTargetsUseCase,
    @Inject(DeregisterTargetsUseCase)
    private readonly deregisterTargetsUseCase: DeregisterTargetsUseCase,
    @Inject(ReportTargetHealthUseCase)
    private readonly reportTargetHealthUseCase: ReportTargetHealthUseCase,
    @Inject(DeregisterContainerInstanceUseCase)
    private readonly deregisterContainerInstanceUseCase: DeregisterContainerInstanceUseCase,
    @Inject(UpdateTaskProtectionUseCase)
    private readonly updateTaskProtectionUseCase: UpdateTaskProtectionUseCase,
    @Inject(GetTaskProtectionQuery) private readonly getTaskProtectionQuery: GetTaskProtectionQuery,
  ) {}

  createCluster(req: stateV1.CreateClusterRequest): Promise<common.Cluster> {
    return this.createClusterUseCase.execute(req);
  }
  listClusters(req: stateV1.ListClustersRequest): Promise<stateV1.ListClustersResponse> {
    return this.queries.listClusters(req);
  }
  describeClusters(
    req: stateV1.DescribeClustersRequest,
  ): Promise<stateV1.DescribeClustersResponse> {
    return this.queries.describeClusters(req);
  }
  deleteCluster(req: stateV1.DeleteClusterRequest): Promise<common.Cluster> {
    return this.deleteClusterUseCase.execute(req);
  }
  updateCluster(req: stateV1.UpdateClusterRequest): Promise<common.Cluster> {
    return this.updateClusterUseCase.execute(req);
  }
  deregisterTaskDefinition(
    req: stateV1.DeregisterTaskDefinitionRequest,
  ): Promise<common.TaskDefinition> {
    return this.deregisterTaskDefinitionUseCase.execute(req);
  }
  deleteTaskDefinitions(
    req: stateV1.DeleteTaskDefinitionsRequest,
  ): Promise<stateV1.DeleteTaskDefinitionsResponse> {
    return this.deleteTaskDefinitionsUseCase.execute(req);
  }
  listTaskDefinitions(
    req: stateV1.ListTaskDefinitionsRequest,
  ): Promise<stateV1.ListTaskDefinitionsResponse> {
    return this.taskDefinitionQueries.listTaskDefinitions(req);
  }
  listTaskDefinitionFamilies(
    req: stateV1.ListTaskDefinitionFamiliesRequest,
  ): Promise<stateV1.ListTaskDefinitionFamiliesResponse> {
    return this.taskDefinitionQueries.listTaskDefinitionFamilies(req);
  }
  registerTaskDefinition(
    req: stateV1.RegisterTaskDefinitionRequest,
  ): Promise<common.TaskDefinition> {
    return this.registerTaskDefinitionUseCase.execute(req);
  }
  describeTaskDefinition(
    req: stateV1.DescribeTaskDefinitionRequest,
  ): Promise<common.TaskDefinition> {
    return this.queries.describeTaskDefinition(req);
  }
  registerContainerInstance(
    req: stateV1.RegisterContainerInstanceRequest,
  ): Promise<common.ContainerInstance> {
    return this.registerContainerInstanceUseCase.execute(req);
  }
  listContainerInstances(
    req: stateV1.ListContainerInstancesRequest,
  ): Promise<stateV1.ListContainerInstancesResponse> {
    return this.queries.listContainerInstances(req);
  }
  describeContainerInstances(
    req: stateV1.DescribeContainerInstancesRequest,
  ): Promise<stateV1.DescribeContainerInstancesResponse> {
    return this.queries.describeContainerInstances(req);
  }
  updateContainerInstancesState(
    req: stateV1.UpdateContainerInstancesStateRequest,
  ): Promise<stateV1.UpdateContainerInstancesStateResponse> {
    return this.updateContainerInstancesStateUseCase.execute(req);
  }
  commitPlacements(
    req: stateV1.CommitPlacementsRequest,
  ): Promise<stateV1.CommitPlacementsResponse> {
    return this.commitPlacementsUseCase.execute(req);
  }
  listTasks(req: stateV1.ListTasksRequest): Promise<stateV1.ListTasksResponse> {
    return this.queries.listTasks(req);
  }
  listStaleLaunches(
    req: stateV1.ListStaleLaunchesRequest,
  ): Promise<stateV1.ListStaleLaunchesResponse> {
    return this.queries.listStaleLaunches(req);
  }
  describeTasks(req: stateV1.DescribeTasksRequest): Promise<stateV1.DescribeTasksResponse> {
    return this.queries.describeTasks(req);
  }
  markTaskStopping(req: stateV1.MarkTaskStoppingRequest): Promise<common.Task> {
    return this.markTaskStoppingUseCase.execute(req);
  }

  deregisterContainerInstance(
    req: stateV1.DeregisterContainerInstanceRequest,
  ): Promise<stateV1.DeregisterContainerInstanceResponse> {
    return this.deregisterContainerInstanceUseCase.execute(req);
  }
  updateTaskProtection(
    req: stateV1.UpdateTaskProtectionRequest,
  ): Promise<stateV1.TaskProtectionResponse> {
    return this.updateTaskProtectionUseCase.execute(req);
  }
  getTaskProtection(
    req: stateV1.GetTaskProtectionRequest,
  ): Promise<stateV1.TaskProtectionResponse> {
    return this.getTaskProtectionQuery.execute(req);
  }

  markInstanceTasksLost(
    req: stateV1.MarkInstanceTasksLostRequest,
  ): Promise<stateV1.MarkInstanceTasksLostResponse> {
    return this.markInstanceTasksLostUseCase.execute(req);
  }
  getUtilisation(req: stateV1.GetUtilisationRequest): Promise<stateV1.GetUtilisationResponse> {
    return this.getUtilisationQuery.execute(req);
  }
  putAttributes(req: stateV1.PutAttributesRequest): Promise<stateV1.PutAttributesResponse> {
    return this.changeAttributesUseCase.put(req);
  }
  deleteAttributes(
    req: stateV1.DeleteAttributesRequest,
  ): Promise<stateV1.DeleteAttributesResponse> {
    return this.changeAttributesUseCase.delete(req);
  }
  listAttributes(req: stateV1.ListAttributesRequest): Promise<stateV1.ListAttributesResponse> {
    return this.listAttributesQuery.execute(req);
  }
  reserveClientToken(
    req: stateV1.ReserveClientTokenRequest,
  ): Promise<stateV1.ReserveClientTokenResponse> {
    return this.clientTokens.reserve(req);
  }
  completeClientToken(req: stateV1.CompleteClientTokenRequest): Promise<stateV1.ClientTokenAck> {
    return this.clientTokens.complete(req);
  }
  releaseClientToken(req: stateV1.ReleaseClientTokenRequest): Promise<stateV1.ClientTokenAck> {
    return this.clientTokens.release(req);
  }
  createService(req: stateV1.CreateServiceRequest): Promise<common.Service> {
    return this.createServiceUseCase.execute(req);
  }
  updateService(req: stateV1.UpdateServiceRequest): Promise<common.Service> {
    return this.updateServiceUseCase.execute(req);
  }
  deleteService(req: stateV1.DeleteServiceRequest): Promise<common.Service> {
    return this.deleteServiceUseCase.execute(req);
  }
  describeServices(
    req: stateV1.DescribeServicesRequest,
  ): Promise<stateV1.DescribeServicesResponse> {
    return this.serviceQueries.describeServices(req);
  }
  listServices(req: stateV1.ListServicesRequest): Promise<stateV1.ListServicesResponse> {
    return this.serviceQueries.listServices(req);
  }
  listServiceTasks(
    req: stateV1.ListServiceTasksRequest,
  ): Promise<stateV1.ListServiceTasksResponse> {
    return this.serviceQueries.listServiceTasks(req);
  }
  recordServiceProgress(req: stateV1.RecordServiceProgressRequest): Promise<common.Service> {
    return this.recordServiceProgressUseCase.execute(req);
  }
  acquireLease(req: stateV1.AcquireLeaseRequest): Promise<stateV1.Lease> {
    return this.leases.acquire(req);
  }
  releaseLease(req: stateV1.ReleaseLeaseRequest): Promise<stateV1.Lease> {
    return this.leases.release(req);
  }
  putLbResource(req: stateV1.PutLbResourceRequest): Promise<stateV1.LbResource> {
    return this.putLbResourceUseCase.execute(req);
  }
  deleteLbResource(req: stateV1.DeleteLbResourceRequest): Promise<stateV1.LbResource> {
    return this.deleteLbResourceUseCase.execute(req);
  }
  listLbResources(req: stateV1.ListLbResourcesRequest): Promise<stateV1.ListLbResourcesResponse> {
    return this.lbQueries.listLbResources(req);
  }
  registerTargets(req: stateV1.RegisterTargetsRequest): Promise<stateV1.TargetsResponse> {
    return this.registerTargetsUseCase.execute(req);
  }
  deregisterTargets(req: stateV1.DeregisterTargetsRequest): Promise<stateV1.TargetsResponse> {
    return this.deregisterTargetsUseCase.execute(req);
  }
  reportTargetHealth(req: stateV1.ReportTargetHealthRequest): Promise<stateV1.TargetsResponse> {
    return this.reportTargetHealthUseCase.execute(req);
  }
  describeTargetHealth(req: stateV1.DescribeTargetHealthRequest): Promise<stateV1.TargetsResponse> {
    return this.lbQueries.describeTargetHealth(req);
  }

  createAccessKey(req: stateV1.CreateAccessKeyRequest): Promise<stateV1.AccessKeySecret> {
    return this.accessKeys.create(req);
  }
  listAccessKeys(): Promise<stateV1.ListAccessKeysResponse> {
    return this.accessKeys.list();
  }
  revokeAccessKey(req: stateV1.RevokeAccessKeyRequest): Promise<stateV1.AccessKey> {
    return this.accessKeys.revoke(req);
  }
  resolveAccessKey(req: stateV1.ResolveAccessKeyRequest): Promise<stateV1.AccessKeySecret> {
    return this.accessKeys.resolve(req);
  }
  createJoinToken(req: stateV1.CreateJoinTokenRequest): Promise<stateV1.JoinTokenSecret> {
    return this.joinTokens.create(req);
  }
  listJoinTokens(): Promise<stateV1.ListJoinTokensResponse> {
    return this.joinTokens.list();
  }
  revokeJoinToken(req: stateV1.RevokeJoinTokenRequest): Promise<stateV1.JoinToken> {
    return this.joinTokens.revoke(req);
  }

  tagResource(req: stateV1.TagResourceRequest): Promise<stateV1.ResourceTags> {
    return this.resourceTags.tag(req);
  }
  untagResource(req: stateV1.UntagResourceRequest): Promise<stateV1.ResourceTags> {
    return this.resourceTags.untag(req);
  }
  listTagsForResource(req: stateV1.ListTagsForResourceRequest): Promise<stateV1.ResourceTags> {
    return this.resourceTags.list(req);
  }
  putAccountSetting(req: stateV1.PutAccountSettingRequest): Promise<stateV1.AccountSetting> {
    return this.accountSettings.put(req);
  }
  deleteAccountSetting(req: stateV1.DeleteAccountSettingRequest): Promise<stateV1.AccountSetting> {
    return this.accountSettings.delete(req);
  }
  listAccountSettings(
    req: stateV1.ListAccountSettingsRequest,
  ): Promise<stateV1.ListAccountSettingsResponse> {
    return this.accountSettings.list(req);
  }
}
