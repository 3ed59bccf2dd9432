import {
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  parseServiceJson,
  ServiceNotActiveError,
  ServiceNotFoundError,
  validateServiceSpec,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { OutboxRepository, serviceEvent } from './outbox.repository';
import { resolveTaskDefinitionArn } from './resolve-task-definition';
import {
  canonicalJson,
  ServiceRepository,
  serviceNameOf,
  serviceRefInCluster,
} from './service.repository';
import type { LbRepository } from './lb.repository';
import { checkServiceLoadBalancers } from './service-load-balancers';
import type { TaskDefinitionRepository } from './task-definition.repository';

/**
 * ECS UpdateService on an ACTIVE service: what is given replaces what the service has, and
 * the result is validated as a whole (so, e.g., a new desired count is checked against the
 * stored deployment configuration). A task definition that resolves to another revision, or
 * force_new_deployment, starts a new PRIMARY deployment with the service's desired count (the
 * previous PRIMARY becomes ACTIVE, its rollout state as it was); otherwise a new desired count
 * also becomes the PRIMARY deployment's. A request that changes nothing writes nothing.
 */
export class UpdateServiceUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly taskDefinitions: TaskDefinitionRepository,
    private readonly services: ServiceRepository,
    private readonly outbox: OutboxRepository,
    private readonly lbs: LbRepository,
  ) {}

  async execute(req: stateV1.UpdateServiceRequest): Promise<common.Service> {
    const cluster = clusterNameOf(req.cluster);
    const given = (text: string | undefined, member: string) => parseServiceJson(text, member);
    const deploymentConfiguration = given(
      req.deploymentConfigurationJson,
      'deploymentConfiguration',
    );
    const placementConstraints = given(req.placementConstraintsJson, 'placementConstraints');
    const placementStrategy = given(req.placementStrategyJson, 'placementStrategy');
    const loadBalancers = given(req.loadBalancersJson, 'loadBalancers');

    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      const row = serviceRefInCluster(req.service, cluster)
        ? await this.services.findByName(tx, cluster, serviceNameOf(req.service), true)
        : undefined;
      if (!row) throw new ServiceNotFoundError();
      if (row.status !== 'ACTIVE') throw new ServiceNotActiveError();

      const current = this.services.specOf(row);
      const daemon = current.schedulingStrategy === 'DAEMON';
      if (daemon && req.desiredCount !== undefined) {
        throw new InvalidParameterError(
          'desiredCount is not valid for a service with the DAEMON scheduling strategy: it runs one task on each container instance.',
        );
      }
      const spec = validateServiceSpec({
        serviceName: current.serviceName,
        schedulingStrategy: current.schedulingStrategy,
        launchType: current.launchType,
        desiredCount: daemon ? undefined : (req.desiredCount ?? current.desiredCount),
        deploymentConfiguration: deploymentConfiguration ?? current.deploymentConfiguration,
        placementConstraints: placementConstraints ?? current.placementConstraints,
        placementStrategy: placementStrategy ?? current.placementStrategy,
        loadBalancers: loadBalancers ?? current.loadBalancers,
        tags: current.tags,
        healthCheckGracePeriodSeconds:
          req.healthCheckGracePeriodSeconds ?? (current.healthCheckGracePeriodSeconds || undefined),
      });
      const taskDefinitionArn = req.taskDefinition
        ? await resolveTaskDefinitionArn(tx, this.taskDefinitions, req.taskDefinition)
        : row.task_definition_arn;
      if (loadBalancers !== undefined || taskDefinitionArn !== row.task_definition_arn) {
        await checkServiceLoadBalancers(
          tx,
          this.lbs,
          this.taskDefinitions,
          spec.loadBalancers,
          taskDefinitionArn,
        );
      }
      const newDeployment = req.forceNewDeployment || taskDefinitionArn !== row.task_definition_arn;
      if (!newDeployment && canonicalJson(spec) === canonicalJson(current)) {
        const [unchanged] = await this.services.toProtos(tx, [row]);
        return unchanged;
      }

      await this.services.update(tx, row.id, {
        status: row.status,
        desiredCount: spec.desiredCount,
        taskDefinitionArn,
        spec,
      });
      if (newDeployment) {
        await this.services.startDeployment(
          tx,
          row.id,
          taskDefinitionArn,
          spec.desiredCount,
          spec.launchType,
        );
      } else {
        await this.services.setDeploymentsDesired(tx, row.id, spec.desiredCount);
      }
      const [service] = await this.services.toProtos(tx, [
        await this.services.findById(tx, row.id),
      ]);
      await this.outbox.append(tx, serviceEvent('updated', service));
      return service;
    });
  }
}
