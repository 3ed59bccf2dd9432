import {
  arns,
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  parseArn,
  parseTaskDefinitionRef,
  resourceIdOf,
  TaskDefinitionNotFoundError,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { pageSize, pageToken } from './db';
import type { TaskDefinitionRepository } from './task-definition.repository';
import type { TaskRepository } from './task.repository';

const MISSING = 'MISSING';

/** The read side: lists and describes, straight from the pool (no transaction needed). */
export class StateQueries {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly taskDefinitions: TaskDefinitionRepository,
    private readonly instances: ContainerInstanceRepository,
    private readonly tasks: TaskRepository,
  ) {}

  async listClusters(req: stateV1.ListClustersRequest): Promise<stateV1.ListClustersResponse> {
    const limit = pageSize(req.maxResults, 100, 100);
    const names = await this.clusters.listNames(
      this.ctx.pool,
      pageToken.decode(req.nextToken),
      limit + 1,
    );
    const page = names.slice(0, limit);
    return {
      clusterArns: page.map((n) => this.clusters.arnOf(n)),
      nextToken: names.length > limit ? pageToken.encode(page[page.length - 1]) : '',
    };
  }

  /** No names means the `default` cluster, as in ECS. */
  async describeClusters(
    req: stateV1.DescribeClustersRequest,
  ): Promise<stateV1.DescribeClustersResponse> {
    const refs = req.clusters.length ? req.clusters : ['default'];
    const found = await this.clusters.findByNames(this.ctx.pool, refs.map(clusterNameOf));
    const byName = new Map(found.map((c) => [c.clusterName, c]));
    const clusters: common.Cluster[] = [];
    const failures: common.Failure[] = [];
    for (const ref of refs) {
      const c = byName.get(clusterNameOf(ref));
      if (c) clusters.push(c);
      else
        failures.push({
          arn: parseArn(ref) ? ref : this.clusters.arnOf(ref),
          reason: MISSING,
          detail: '',
        });
    }
    return { clusters, failures };
  }

  /** `family` alone means its latest ACTIVE revision. */
  async describeTaskDefinition(
    req: stateV1.DescribeTaskDefinitionRequest,
  ): Promise<common.TaskDefinition> {
    const ref = parseTaskDefinitionRef(req.taskDefinition);
    if (!ref) throw new TaskDefinitionNotFoundError();
    const td =
      ref.revision === undefined
        ? await this.taskDefinitions.findLatestActive(this.ctx.pool, ref.family)
        : await this.taskDefinitions.find(this.ctx.pool, ref.family, ref.revision);
    if (!td) throw new TaskDefinitionNotFoundError();
    return td;
  }

  async listContainerInstances(
    req: stateV1.ListContainerInstancesRequest,
  ): Promise<stateV1.ListContainerInstancesResponse> {
    const cluster = await this.existingCluster(req.cluster);
    const limit = pageSize(req.maxResults);
    const rows = await this.instances.page(
      this.ctx.pool,
      cluster,
      req.status,
      pageToken.decode(req.nextToken),
      limit + 1,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      containerInstanceArns: page.map((i) => i.containerInstanceArn),
      nextToken:
        rows.length > limit
          ? pageToken.encode(resourceIdOf(last.containerInstanceArn, 'container-instance'))
          : '',
      containerInstances: page,
    };
  }

  async describeContainerInstances(
    req: stateV1.DescribeContainerInstancesRequest,
  ): Promise<stateV1.DescribeContainerInstancesResponse> {
    const cluster = await this.existingCluster(req.cluster);
    const ids = req.containerInstances.map((x) => resourceIdOf(x, 'container-instance'));
    const found = await this.instances.findWithCounts(this.ctx.pool, cluster, ids);
    const byId = new Map(
      found.map((i) => [resourceIdOf(i.containerInstanceArn, 'container-instance'), i]),
    );
    const containerInstances: common.ContainerInstance[] = [];
    const failures: common.Failure[] = [];
    req.containerInstances.forEach((ref, i) => {
      const instance = byId.get(ids[i]);
      if (instance) containerInstances.push(instance);
      else
        failures.push({
          arn: parseArn(ref) ? ref : arns.containerInstance(this.ctx.arn, cluster, ref),
          reason: MISSING,
          detail: '',
        });
    });
    return { containerInstances, failures };
  }

  /** Empty filters match everything (the api applies ECS's desiredStatus=RUNNING default). */
  async listTasks(req: stateV1.ListTasksRequest): Promise<stateV1.ListTasksResponse> {
    const cluster = await this.existingCluster(req.cluster);
    const limit = pageSize(req.maxResults);
    const rows = await this.tasks.page(
      this.ctx.pool,
      {
        cluster,
        containerInstanceId: req.containerInstance
          ? resourceIdOf(req.containerInstance, 'container-instance')
          : '',
        family: req.family,
        startedBy: req.startedBy,
        desiredStatus: req.desiredStatus,
        group: req.serviceName ? `service:${req.serviceName}` : '',
      },
      pageToken.decode(req.nextToken),
      limit + 1,
    );
    const page = rows.slice(0, limit);
    return {
      taskArns: page.map((t) => t.arn),
      nextToken: rows.length > limit ? pageToken.encode(page[page.length - 1].id) : '',
    };
  }

  /** Launches no agent has reported on (see the RPC), a page at a time. */
  async listStaleLaunches(
    req: stateV1.ListStaleLaunchesRequest,
  ): Promise<stateV1.ListStaleLaunchesResponse> {
    const cluster = await this.existingCluster(req.cluster);
    if (!(req.olderThanMs > 0)) {
      throw new InvalidParameterError('olderThanMs must be greater than 0.');
    }
    const limit = pageSize(req.maxResults);
    const rows = await this.tasks.provisioningOlderThan(
      this.ctx.pool,
      cluster,
      req.olderThanMs,
      pageToken.decode(req.nextToken),
      limit + 1,
    );
    const page = rows.slice(0, limit);
    return {
      launches: page.map((r) => ({
        task: this.tasks.toProto(r),
        agentAddress: r.agent_address,
      })),
      nextToken: rows.length > limit ? pageToken.encode(page[page.length - 1].id) : '',
    };
  }

  async describeTasks(req: stateV1.DescribeTasksRequest): Promise<stateV1.DescribeTasksResponse> {
    const cluster = await this.existingCluster(req.cluster);
    const ids = req.tasks.map((t) => resourceIdOf(t, 'task'));
    const rows = await this.tasks.findByIds(this.ctx.pool, cluster, ids);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const tasks: common.Task[] = [];
    const failures: common.Failure[] = [];
    req.tasks.forEach((ref, i) => {
      const row = byId.get(ids[i]);
      if (row) tasks.push(this.tasks.toProto(row));
      else
        failures.push({
          arn: parseArn(ref) ? ref : arns.task(this.ctx.arn, cluster, ref),
          reason: MISSING,
          detail: '',
        });
    });
    return { tasks, failures };
  }

  private async existingCluster(ref: string): Promise<string> {
    const cluster = clusterNameOf(ref);
    if (!(await this.clusters.exists(this.ctx.pool, cluster))) throw new ClusterNotFoundError();
    return cluster;
  }
}
