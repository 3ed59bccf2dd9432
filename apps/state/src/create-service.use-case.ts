import {
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  parseServiceJson,
  ServiceSpec,
  validateServiceSpec,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { OutboxRepository, serviceEvent } from './outbox.repository';
import { resolveTaskDefinitionArn } from './resolve-task-definition';
import { canonicalJson, ServiceRepository } from './service.repository';
import type { LbRepository } from './lb.repository';
import { checkServiceLoadBalancers } from './service-load-balancers';
import type { TaskDefinitionRepository } from './task-definition.repository';

/**
 * ECS CreateService: validates the request, resolves the task definition to a revision and
 * creates the service with its first PRIMARY deployment (IN_PROGRESS). ECS writes no service
 * event on creation, so neither does this. Creating a name the cluster already has (not
 * INACTIVE) returns that service when the request is the same, and is refused otherwise.
 */
export class CreateServiceUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly taskDefinitions: TaskDefinitionRepository,
    private readonly services: ServiceRepository,
    private readonly outbox: OutboxRepository,
    private readonly lbs: LbRepository,
  ) {}

  async execute(req: stateV1.CreateServiceRequest): Promise<common.Service> {
    const cluster = clusterNameOf(req.cluster);
    const spec = validateServiceSpec({
      serviceName: req.serviceName,
      schedulingStrategy: req.schedulingStrategy,
      launchType: req.launchType,
      desiredCount: req.desiredCount,
      deploymentConfiguration: parseServiceJson(
        req.deploymentConfigurationJson,
        'deploymentConfiguration',
      ),
      placementConstraints: parseServiceJson(req.placementConstraintsJson, 'placementConstraints'),
      placementStrategy: parseServiceJson(req.placementStrategyJson, 'placementStrategy'),
      loadBalancers: parseServiceJson(req.loadBalancersJson, 'loadBalancers'),
      tags: parseServiceJson(req.tagsJson, 'tags'),
      healthCheckGracePeriodSeconds: req.healthCheckGracePeriodSeconds,
    });
    if (!req.taskDefinition) throw new InvalidParameterError('taskDefinition is required.');

    return inTransaction(this.ctx.pool, async (tx) => {
      if (!(await this.clusters.exists(tx, cluster))) throw new ClusterNotFoundError();
      const taskDefinitionArn = await resolveTaskDefinitionArn(
        tx,
        this.taskDefinitions,
        req.taskDefinition,
      );
      await checkServiceLoadBalancers(
        tx,
        this.lbs,
        this.taskDefinitions,
        spec.loadBalancers,
        taskDefinitionArn,
      );
      const columns = {
        status: 'ACTIVE',
        desiredCount: spec.desiredCount,
        taskDefinitionArn,
        spec,
      };
      const row = await this.services.insertIfNameFree(tx, cluster, columns);
      if (!row) {
        const existing = await this.services.findByName(tx, cluster, spec.serviceName);
        if (
          existing &&
          existing.status === 'ACTIVE' &&
          sameRequest(
            {
              spec: this.services.specOf(existing),
              taskDefinitionArn: existing.task_definition_arn,
            },
            spec,
            taskDefinitionArn,
          )
        ) {
          const [service] = await this.services.toProtos(tx, [existing]);
          return service;
        }
        throw new InvalidParameterError('Creation of service was not idempotent.');
      }
      await this.services.startDeployment(
        tx,
        row.id,
        taskDefinitionArn,
        spec.desiredCount,
        spec.launchType,
      );
      const [service] = await this.services.toProtos(tx, [row]);
      await this.outbox.append(tx, serviceEvent('created', service));
      return service;
    });
  }
}

/** Compared canonically: jsonb does not keep the order of object keys. */
function sameRequest(
  existing: { spec: ServiceSpec; taskDefinitionArn: string },
  spec: ServiceSpec,
  taskDefinitionArn: string,
): boolean {
  return canonicalJson(existing) === canonicalJson({ spec, taskDefinitionArn });
}
