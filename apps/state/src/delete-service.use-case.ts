import {
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  ServiceNotActiveError,
  ServiceNotFoundError,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { OutboxRepository, serviceEvent } from './outbox.repository';
import { ServiceRepository, serviceNameOf, serviceRefInCluster } from './service.repository';

/**
 * ECS DeleteService: an ACTIVE service scaled to 0 (or any, with force) becomes DRAINING with
 * desired count 0 (its live deployments too); the service scheduler stops its tasks and makes
 * it INACTIVE (RecordServiceProgress). Deleting a DRAINING or INACTIVE service is refused with
 * ServiceNotActiveException, as ECS does. A DAEMON service (desired 0) needs no force.
 */
export class DeleteServiceUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly services: ServiceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.DeleteServiceRequest): Promise<common.Service> {
    const cluster = clusterNameOf(req.cluster);
    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      const row = serviceRefInCluster(req.service, cluster)
        ? await this.services.findByName(tx, cluster, serviceNameOf(req.service), true)
        : undefined;
      if (!row) throw new ServiceNotFoundError();
      if (row.status !== 'ACTIVE') throw new ServiceNotActiveError();
      if (row.desired_count > 0 && !req.force) {
        throw new InvalidParameterError(
          'The service cannot be stopped while it is scaled above 0.',
        );
      }
      await this.services.update(tx, row.id, {
        status: 'DRAINING',
        desiredCount: 0,
        taskDefinitionArn: row.task_definition_arn,
        spec: this.services.specOf(row),
      });
      await this.services.setDeploymentsDesired(tx, row.id, 0, true);
      const [service] = await this.services.toProtos(tx, [
        await this.services.findById(tx, row.id),
      ]);
      await this.outbox.append(tx, serviceEvent('deleted', service));
      return service;
    });
  }
}
