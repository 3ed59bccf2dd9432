import {
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  ServiceNotFoundError,
  VersionConflictError,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { OutboxRepository, serviceEvent } from './outbox.repository';
import {
  canonicalJson,
  DeploymentRow,
  ServiceRepository,
  serviceNameOf,
  serviceRefInCluster,
} from './service.repository';

const ROLLOUT_STATES = ['IN_PROGRESS', 'COMPLETED', 'FAILED'];

/**
 * What the service scheduler observed and decided, applied under the service's row lock:
 * counts and rollout state per deployment (a deployment marked inactive is INACTIVE and no
 * longer shown), the service's counts, events appended in the order given, and the status
 * (only DRAINING → INACTIVE), and a DAEMON service's desired count. With expected_version set, a service that changed since is
 * refused (ABORTED) and nothing is written. When nothing visible changes, nothing is written
 * and the version stays; otherwise the version grows by one and `service.updated` is written.
 */
export class RecordServiceProgressUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly services: ServiceRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.RecordServiceProgressRequest): Promise<common.Service> {
    const cluster = clusterNameOf(req.cluster);
    for (const d of req.deployments) {
      if (d.rolloutState && !ROLLOUT_STATES.includes(d.rolloutState)) {
        throw new InvalidParameterError(
          `deployments: rolloutState must be IN_PROGRESS, COMPLETED or FAILED, not '${d.rolloutState}'.`,
        );
      }
      if (d.pendingCount < 0 || d.runningCount < 0 || d.failedTasks < 0) {
        throw new InvalidParameterError(`deployments: counts of ${d.id} cannot be negative.`);
      }
    }
    if (req.runningCount < 0 || req.pendingCount < 0) {
      throw new InvalidParameterError('runningCount and pendingCount cannot be negative.');
    }
    if (req.status && !['ACTIVE', 'DRAINING', 'INACTIVE'].includes(req.status)) {
      throw new InvalidParameterError(
        `status must be ACTIVE, DRAINING or INACTIVE, not '${req.status}'.`,
      );
    }

    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      const row = serviceRefInCluster(req.service, cluster)
        ? await this.services.findByName(tx, cluster, serviceNameOf(req.service), true)
        : undefined;
      if (!row) throw new ServiceNotFoundError();
      if (req.expectedVersion && req.expectedVersion !== Number(row.version)) {
        throw new VersionConflictError(
          `Service ${row.name} is at version ${row.version}, not the expected ${req.expectedVersion}: read it again.`,
        );
      }
      const status = req.status || row.status;
      if (status !== row.status && !(row.status === 'DRAINING' && status === 'INACTIVE')) {
        throw new InvalidParameterError(
          `status: a ${row.status} service cannot become ${status}; only a DRAINING one becomes INACTIVE.`,
        );
      }

      const daemonDesired = req.daemonDesiredCount;
      if (daemonDesired !== undefined) {
        if (row.scheduling_strategy !== 'DAEMON') {
          throw new InvalidParameterError(
            `daemonDesiredCount: service ${row.name} uses the REPLICA scheduling strategy.`,
          );
        }
        if (daemonDesired < 0) {
          throw new InvalidParameterError('daemonDesiredCount cannot be negative.');
        }
      }
      const desiredCount = daemonDesired ?? row.desired_count;

      const deployments = await this.services.deploymentsOf(tx, row.id);
      const byId = new Map(deployments.map((d) => [d.id, d]));
      const changed: DeploymentRow[] = [];
      for (const p of req.deployments) {
        const d = byId.get(p.id);
        if (!d) {
          throw new InvalidParameterError(
            `deployments: ${p.id} is not a deployment of service ${row.name}.`,
          );
        }
        const next: DeploymentRow = {
          ...d,
          status: p.inactive ? 'INACTIVE' : d.status,
          pending_count: p.pendingCount,
          running_count: p.runningCount,
          failed_tasks: p.failedTasks,
          rollout_state: p.rolloutState || d.rollout_state,
          rollout_state_reason:
            p.rolloutState || p.rolloutStateReason ? p.rolloutStateReason : d.rollout_state_reason,
        };
        if (canonicalJson(next) !== canonicalJson(d)) changed.push(next);
      }
      const serviceChanged =
        status !== row.status ||
        req.runningCount !== row.running_count ||
        req.pendingCount !== row.pending_count ||
        desiredCount !== row.desired_count;
      if (!serviceChanged && changed.length === 0 && req.events.length === 0) {
        const [unchanged] = await this.services.toProtos(tx, [row]);
        return unchanged;
      }

      await this.services.updateDeployments(tx, changed);
      if (desiredCount !== row.desired_count) {
        await this.services.setDeploymentsDesired(tx, row.id, desiredCount);
      }
      await this.services.appendEvents(tx, row.id, req.events);
      await this.services.recordProgress(tx, row.id, {
        status,
        runningCount: req.runningCount,
        pendingCount: req.pendingCount,
        desiredCount,
      });
      const [service] = await this.services.toProtos(tx, [
        await this.services.findById(tx, row.id),
      ]);
      await this.outbox.append(tx, serviceEvent('updated', service));
      return service;
    });
  }
}
