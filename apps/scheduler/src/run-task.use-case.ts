import { Inject, Injectable } from '@nestjs/common';
import {
  ArnContext,
  arns,
  ClientError,
  clusterNameOf,
  ClusterNotFoundError,
  InvalidParameterError,
  NO_CONTAINER_INSTANCES,
  PlacementInstance,
  planPlacement,
  ResourceClaim,
  taskClaim,
  TaskDefinitionInput,
  TaskOverride,
  validateTaskOverride,
} from '@wharf/domain';
import { common, schedulerV1, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { randomBytes, randomUUID } from 'node:crypto';
import { firstValueFrom, Observable, timeout } from 'rxjs';
import { AgentClients } from './agent-clients';
import type { SchedulerConfig } from './config';
import { LOGGER, SCHEDULER_CONFIG, STATE_CLIENT } from './tokens';

export const MAX_RUN_TASK_COUNT = 10;
/** How many times placements that state rejected (the instance changed) are planned again. */
export const MAX_PLACEMENT_ATTEMPTS = 3;

interface Candidate {
  task: common.Task;
  claim: ResourceClaim;
}

/**
 * RunTask: resolve the cluster and task definition, place each task first-fit on a snapshot
 * of the cluster's instances, commit the plan to state (re-planning what state rejects
 * against a fresh snapshot), then tell the chosen agents to start the tasks.
 */
@Injectable()
export class RunTaskUseCase {
  private readonly arnContext: ArnContext;

  constructor(
    @Inject(STATE_CLIENT) private readonly state: stateV1.StateServiceClient,
    private readonly agents: AgentClients,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
  ) {
    this.arnContext = { region: config.WHARF_REGION, accountId: config.WHARF_ACCOUNT_ID };
  }

  async execute(req: schedulerV1.RunTaskRequest): Promise<schedulerV1.RunTaskResponse> {
    const count = req.count === 0 ? 1 : req.count;
    if (!Number.isInteger(count) || count < 1 || count > MAX_RUN_TASK_COUNT) {
      throw new InvalidParameterError(`count must be between 1 and ${MAX_RUN_TASK_COUNT}.`);
    }
    const clusterName = clusterNameOf(req.cluster);
    const { clusters } = await firstValueFrom(
      this.state.describeClusters({ clusters: [clusterName] }),
    );
    const cluster = clusters.find((c) => c.status === 'ACTIVE');
    if (!cluster) throw new ClusterNotFoundError();

    const taskDefinition = await firstValueFrom(
      this.state.describeTaskDefinition({ taskDefinition: req.taskDefinition }),
    );
    if (taskDefinition.status && taskDefinition.status !== 'ACTIVE') {
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

    const candidates: Candidate[] = Array.from({ length: count }, () => ({
      task: this.newTask(req, cluster, taskDefinition, definition, overrides, claim),
      claim,
    }));

    const { committed, failures } = await this.placeAndCommit(cluster.clusterName, candidates);
    const tasks = await this.startOnAgents(cluster.clusterName, committed, taskDefinition);
    this.logger.info(
      {
        cluster: cluster.clusterName,
        taskDefinition: taskDefinition.taskDefinitionArn,
        placed: tasks.length,
        failed: failures.length,
      },
      'RunTask placed',
    );
    return { tasks, failures };
  }

  private async placeAndCommit(
    cluster: string,
    candidates: Candidate[],
  ): Promise<{
    committed: { task: common.Task; agentAddress: string }[];
    failures: common.Failure[];
  }> {
    const committed: { task: common.Task; agentAddress: string }[] = [];
    const failures: common.Failure[] = [];
    let pending = candidates;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const { containerInstances } = await firstValueFrom(
        this.state.listContainerInstances({ cluster, status: '', maxResults: 0, nextToken: '' }),
      );
      const byArn = new Map(containerInstances.map((i) => [i.containerInstanceArn, i]));
      const plan = planPlacement(
        [...containerInstances].sort(byRegistration).map(toPlacementInstance),
        pending.map((c) => c.claim),
      );
      if (plan.kind === 'no-instances') {
        if (committed.length === 0 && failures.length === 0) {
          throw new InvalidParameterError(NO_CONTAINER_INSTANCES);
        }
        failures.push(
          ...pending.map(() => ({ arn: '', reason: 'MISSING', detail: NO_CONTAINER_INSTANCES })),
        );
        break;
      }

      const placements: stateV1.Placement[] = [];
      const placedCandidates: Candidate[] = [];
      plan.placements.forEach((p, i) => {
        if (!p.placed) {
          failures.push({ arn: p.instanceArn ?? '', reason: p.reason, detail: '' });
          return;
        }
        const instance = byArn.get(p.instanceArn)!;
        const task = { ...pending[i].task, containerInstanceArn: p.instanceArn };
        placements.push({ task, expectedInstanceVersion: instance.version });
        placedCandidates.push({ ...pending[i], task });
      });
      if (placements.length === 0) break;

      const result = await firstValueFrom(this.state.commitPlacements({ cluster, placements }));
      const rejectedIndexes = new Set(result.rejected.map((r) => r.index));
      for (const task of result.tasks) {
        const instance = byArn.get(task.containerInstanceArn);
        committed.push({ task, agentAddress: instance?.agentAddress ?? '' });
      }
      pending = placedCandidates.filter((_, i) => rejectedIndexes.has(i));
      if (pending.length > 0 && attempt >= MAX_PLACEMENT_ATTEMPTS) {
        for (const r of result.rejected) {
          failures.push({
            arn: placements[r.index]?.task?.containerInstanceArn ?? '',
            reason: r.reason,
            detail: r.detail,
          });
        }
        break;
      }
      if (pending.length > 0) {
        this.logger.info(
          { cluster, rejected: result.rejected, attempt },
          'placements rejected by state; planning them again',
        );
      }
    }
    return { committed, failures };
  }

  /** Starts each committed task on its agent, in parallel; a task no agent took is stopped. */
  private async startOnAgents(
    cluster: string,
    committed: { task: common.Task; agentAddress: string }[],
    taskDefinition: common.TaskDefinition,
  ): Promise<common.Task[]> {
    return Promise.all(
      committed.map(async ({ task, agentAddress }) => {
        try {
          if (!agentAddress) throw new Error('the instance has no agent address');
          await firstValueFrom(
            this.agents.get(agentAddress).startTask({ task, taskDefinition }).pipe(
              // An agent that never answers must not hold the RunTask call forever.
              timeoutAfter(this.config.AGENT_CALL_TIMEOUT_MS),
            ),
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

  private newTask(
    req: schedulerV1.RunTaskRequest,
    cluster: common.Cluster,
    taskDefinition: common.TaskDefinition,
    definition: TaskDefinitionInput,
    overrides: TaskOverride,
    claim: ResourceClaim,
  ): common.Task {
    const taskId = randomBytes(16).toString('hex');
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
      group: req.group || `family:${taskDefinition.family}`,
      startedBy: req.startedBy,
      launchType: req.launchType || 'EC2',
      version: 1,
      containers,
      stopCode: '',
      stoppedReason: '',
      healthStatus: containers.some((c) => c.healthStatus) ? 'UNKNOWN' : '',
      overridesJson: JSON.stringify(overrides),
      tagsJson: req.tagsJson || '[]',
      createdAt: Date.now(),
      pullStartedAt: 0,
      pullStoppedAt: 0,
      startedAt: 0,
      stoppingAt: 0,
      stoppedAt: 0,
      executionStoppedAt: 0,
      availabilityZone: '',
    };
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

function toPlacementInstance(i: common.ContainerInstance): PlacementInstance {
  const r = i.remaining ?? { cpu: 0, memory: 0, ports: [], portsUdp: [] };
  return {
    arn: i.containerInstanceArn,
    status: i.status,
    agentConnected: i.agentConnected,
    remaining: { cpu: r.cpu, memory: r.memory, ports: r.ports, portsUdp: r.portsUdp },
  };
}

/** First fit walks instances oldest first, so the same snapshot always gives the same plan. */
function byRegistration(a: common.ContainerInstance, b: common.ContainerInstance): number {
  return (
    a.registeredAt - b.registeredAt || a.containerInstanceArn.localeCompare(b.containerInstanceArn)
  );
}

function timeoutAfter<T>(ms: number) {
  return (source: Observable<T>) => source.pipe(timeout({ first: ms }));
}
