import {
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  ServiceNotFoundError,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inSnapshot, pageSize, pageToken } from './db';
import { ServiceRepository, serviceNameOf, serviceRefInCluster } from './service.repository';
import type { TaskRepository } from './task.repository';

/** ECS: DescribeServices takes at most 10 services. */
export const MAX_DESCRIBE_SERVICES = 10;

/** The read side of services, straight from the pool. */
export class ServiceQueries {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly services: ServiceRepository,
    private readonly tasks: TaskRepository,
  ) {}

  /**
   * Names or ARNs, 1 to 10; each unknown one is a MISSING failure. A name means its service
   * that is not INACTIVE, else its newest INACTIVE one (still described, as ECS does).
   */
  async describeServices(
    req: stateV1.DescribeServicesRequest,
  ): Promise<stateV1.DescribeServicesResponse> {
    if (req.services.length === 0 || req.services.length > MAX_DESCRIBE_SERVICES) {
      throw new InvalidParameterError(
        `services must name between 1 and ${MAX_DESCRIBE_SERVICES} services.`,
      );
    }
    const cluster = await this.existingCluster(req.cluster);
    const names = req.services.map(serviceNameOf);
    const rows = await this.services.findByNames(this.ctx.pool, cluster, names);
    const protos = await this.services.toProtos(this.ctx.pool, rows);
    const byName = new Map(protos.map((s) => [s.serviceName, s]));
    const services: common.Service[] = [];
    const failures: common.Failure[] = [];
    const seen = new Set<string>();
    req.services.forEach((ref, i) => {
      const s = serviceRefInCluster(ref, cluster) ? byName.get(names[i]) : undefined;
      if (!s) {
        failures.push({
          arn: ref.startsWith('arn:') ? ref : this.services.arnOf(cluster, ref),
          reason: 'MISSING',
          detail: '',
        });
      } else if (!seen.has(s.serviceArn)) {
        seen.add(s.serviceArn);
        services.push(s);
      }
    });
    return { services, failures };
  }

  /** ACTIVE and DRAINING services, ordered by id: a page token is the last id shown. */
  async listServices(req: stateV1.ListServicesRequest): Promise<stateV1.ListServicesResponse> {
    const cluster = await this.existingCluster(req.cluster);
    const limit = pageSize(req.maxResults, 10, 100);
    const rows = await this.services.page(
      this.ctx.pool,
      { cluster, launchType: req.launchType, schedulingStrategy: req.schedulingStrategy },
      pageToken.decode(req.nextToken),
      limit + 1,
    );
    const page = rows.slice(0, limit);
    return {
      serviceArns: page.map((r) => r.arn),
      nextToken: rows.length > limit ? pageToken.encode(page[page.length - 1].id) : '',
    };
  }

  /** The service's tasks (group `service:<name>`) not yet STOPPED, full records. */
  async listServiceTasks(
    req: stateV1.ListServiceTasksRequest,
  ): Promise<stateV1.ListServiceTasksResponse> {
    const cluster = await this.existingCluster(req.cluster);
    const row = serviceRefInCluster(req.service, cluster)
      ? await this.services.findByName(this.ctx.pool, cluster, serviceNameOf(req.service))
      : undefined;
    if (!row) throw new ServiceNotFoundError();
    const group = `service:${row.name}`;
    // One snapshot for both reads: a task that stops between them would otherwise be listed
    // twice, live and STOPPED, and the service scheduler would count it as still running.
    const [tasks, stopped] = await inSnapshot(this.ctx.pool, async (q) => [
      await this.tasks.liveInGroup(q, cluster, group),
      req.stoppedSinceMs > 0
        ? await this.tasks.stoppedInGroupSince(q, cluster, group, new Date(req.stoppedSinceMs))
        : [],
    ]);
    return { tasks: [...tasks, ...stopped].map((t) => this.tasks.toProto(t)) };
  }

  private async existingCluster(ref: string): Promise<string> {
    const cluster = clusterNameOf(ref);
    if (!(await this.clusters.exists(this.ctx.pool, cluster))) throw new ClusterNotFoundError();
    return cluster;
  }
}
