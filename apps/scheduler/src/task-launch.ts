import {
  ArnContext,
  arns,
  ClientError,
  ClusterNotFoundError,
  InvalidParameterError,
  PlacementRequest,
  RequiredAttribute,
  ResourceClaim,
  taskClaim,
  TaskDefinitionInput,
  TaskOverride,
  validateTaskOverride,
} from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { firstValueFrom } from 'rxjs';
import type { AgentClients } from './agent-clients';
import type { SchedulerConfig } from './config';
import type { Lookups } from './lookups';

/** ECS: startedBy has at most 128 characters. */
export const MAX_STARTED_BY_LENGTH = 128;
/** ListContainerInstances' largest page. */
const INSTANCE_PAGE = 1000;

/** What RunTask and StartTask both resolve before deciding where tasks go. */
export interface Launch {
  cluster: common.Cluster;
  taskDefinition: common.TaskDefinition;
  definition: TaskDefinitionInput;
  overrides: TaskOverride;
  /** What one task claims on an instance, overrides applied. */
  claim: ResourceClaim;
}

export interface LaunchRequest {
  cluster: string;
  taskDefinition: string;
  overridesJson: string;
}

export interface TaskFields {
  group: string;
  startedBy: string;
  tagsJson: string;
  launchType: string;
}

export interface Committed {
  task: common.Task;
  agentAddress: string;
}

/**
 * The parts of launching tasks that do not depend on how instances are chosen: resolving the
 * cluster, the task definition and the overrides; building the task records; telling the
 * chosen agents to start them (and stopping those no agent took).
 */
export class TaskLauncher {
  private readonly arnContext: ArnContext;

  constructor(
    private readonly state: stateV1.StateServiceClient,
    private readonly agents: AgentClients,
    private readonly logger: Logger,
    private readonly config: SchedulerConfig,
    private readonly lookups: Lookups,
  ) {
    this.arnContext = { region: config.WHARF_REGION, accountId: config.WHARF_ACCOUNT_ID };
  }

  /**
   * `allowInactive`: a deregistered revision is still launched (services keep running theirs,
   * as in ECS); RunTask and StartTask refuse it.
   */
  async resolve(req: LaunchRequest, { allowInactive = false } = {}): Promise<Launch> {
    const cluster = await this.lookups.cluster(req.cluster);
    if (cluster?.status !== 'ACTIVE') throw new ClusterNotFoundError();

    const taskDefinition = await this.lookups.taskDefinition(req.taskDefinition);
    if (!allowInactive && taskDefinition.status && taskDefinition.status !== 'ACTIVE') {
      // ECS runs no new task from a deregistered revision.
      throw new ClientError('TaskDefinition is inactive');
    }
    const definition = JSON.parse(taskDefinition.definitionJson) as TaskDefinitionInput;
    const overrides = parseOverrides(
      req.overridesJson,
      definition.containerDefinitions.map((c) => c.name ?? ''),
    );
    const claim = taskClaim(
      {
        ...definition,
        cpu: overrides.cpu ?? definition.cpu,
        memory: overrides.memory ?? definition.memory,
      },
      overrides.containerOverrides,
    );
    return { cluster, taskDefinition, definition, overrides, claim };
  }

  /** Every container instance of the cluster (all statuses), page by page. */
  async listInstances(cluster: string): Promise<common.ContainerInstance[]> {
    const all: common.ContainerInstance[] = [];
    let nextToken = '';
    do {
      const page = await firstValueFrom(
        this.state.listContainerInstances({
          cluster,
          status: '',
          maxResults: INSTANCE_PAGE,
          nextToken,
        }),
      );
      all.push(...page.containerInstances);
      nextToken = page.nextToken;
    } while (nextToken);
    return all;
  }

  /** What the planner places: `count` tasks of `group` claiming the launch's resources. */
  placementRequest(launch: Launch, group: string, count: number): PlacementRequest {
    const required = (launch.definition as { requiresAttributes?: RequiredAttribute[] })
      .requiresAttributes;
    return {
      count,
      claim: launch.claim,
      group,
      requiresAttributes: (required ?? []).map((a) => ({ name: a.name, value: a.value })),
    };
  }

  /** A new task record (PROVISIONING, desired RUNNING) with a fresh 32-hex id. */
  newTask(launch: Launch, fields: TaskFields): common.Task {
    const { cluster, taskDefinition, definition, overrides, claim } = launch;
    if (fields.startedBy.length > MAX_STARTED_BY_LENGTH) {
      throw new InvalidParameterError(
        `startedBy can have at most ${MAX_STARTED_BY_LENGTH} characters.`,
      );
    }
    // randomUUID draws from a cached pool; randomBytes went to the generator on every task.
    const taskId = randomUUID().replace(/-/g, '');
    const containers: common.Container[] = definition.containerDefinitions.map((c) => {
      const o = overrides.containerOverrides?.find((x) => x.name === c.name);
      const memory = o?.memory ?? c.memory;
      const memoryReservation = o?.memoryReservation ?? c.memoryReservation;
      const cpu = o?.cpu ?? c.cpu;
      return {
        containerArn: arns.container(this.arnContext, cluster.clusterName, taskId, randomUUID()),
        name: c.name ?? '',
        image: c.image ?? '',
        runtimeId: '',
        lastStatus: 'PENDING',
        reason: '',
        networkBindings: [],
        healthStatus: c.healthCheck ? 'UNKNOWN' : '',
        cpu: String(cpu ?? 0),
        memory: memory === undefined ? '' : String(memory),
        memoryReservation: memoryReservation === undefined ? '' : String(memoryReservation),
        essential: c.essential !== false,
      };
    });
    return {
      taskArn: arns.task(this.arnContext, cluster.clusterName, taskId),
      clusterArn: cluster.clusterArn,
      taskDefinitionArn: taskDefinition.taskDefinitionArn,
      containerInstanceArn: '',
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      cpu: claim.cpu,
      memory: claim.memory,
      hostPorts: claim.ports,
      hostPortsUdp: claim.portsUdp,
      group: fields.group || `family:${taskDefinition.family}`,
      startedBy: fields.startedBy,
      launchType: fields.launchType || 'EC2',
      version: 1,
      containers,
      stopCode: '',
      stoppedReason: '',
      healthStatus: containers.some((c) => c.healthStatus) ? 'UNKNOWN' : '',
      overridesJson: JSON.stringify(overrides),
      tagsJson: fields.tagsJson || '[]',
      createdAt: Date.now(),
      pullStartedAt: 0,
      pullStoppedAt: 0,
      startedAt: 0,
      stoppingAt: 0,
      stoppedAt: 0,
      executionStoppedAt: 0,
      availabilityZone: '',
      protectedUntil: 0,
    };
  }

  /** Starts each committed task on its agent, in parallel; a task no agent took is stopped. */
  async startOnAgents(
    cluster: string,
    committed: Committed[],
    taskDefinition: common.TaskDefinition,
  ): Promise<common.Task[]> {
    return Promise.all(
      committed.map(async ({ task, agentAddress }) => {
        try {
          if (!agentAddress) throw new Error('the instance has no agent address');
          // An agent that never answers must not hold the call forever; one restarting is
          // retried within the same time (it starts a task ARN once however often told).
          await this.agents.startTask(
            agentAddress,
            { task, taskDefinition },
            this.config.AGENT_CALL_TIMEOUT_MS,
          );
          return task;
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          this.logger.warn(
            {
              cluster,
              task: task.taskArn,
              instance: task.containerInstanceArn,
              agentAddress,
              err: message,
            },
            'agent did not accept StartTask; stopping the task',
          );
          try {
            return await firstValueFrom(
              this.state.markTaskStopping({
                cluster,
                task: task.taskArn,
                stopCode: 'TaskFailedToStart',
                reason: `The agent of container instance ${task.containerInstanceArn} was unreachable: ${message}`,
              }),
            );
          } catch (stopErr) {
            this.logger.error(
              { err: stopErr, task: task.taskArn },
              'could not mark the task stopping',
            );
            return task;
          }
        }
      }),
    );
  }
}

function parseOverrides(json: string, containerNames: string[]): TaskOverride {
  if (!json) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new InvalidParameterError('overrides is not valid JSON');
  }
  return validateTaskOverride(raw, containerNames);
}
