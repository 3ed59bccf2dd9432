import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  clusterNameOf,
  CompiledPlacementOptions,
  GrpcCode,
  InvalidParameterError,
  WharfError,
} from '@wharf/domain';
import { common, schedulerV1, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { createHash } from 'node:crypto';
import { firstValueFrom } from 'rxjs';
import { AgentClients } from './agent-clients';
import type { SchedulerConfig } from './config';
import { compileRequestOptions } from './placement-options';
import { createPlanner, NO_CONTAINER_INSTANCES, Planner, toSnapshot } from './planner';
import { Committed, Launch, TaskLauncher } from './task-launch';
import { LOGGER, PLANNER, SCHEDULER_CONFIG, STATE_CLIENT } from './tokens';

export const MAX_RUN_TASK_COUNT = 10;
/** How many times placements that state rejected (the instance changed) are planned again. */
export const MAX_PLACEMENT_ATTEMPTS = 3;
/** ECS: a clientToken has at most 64 characters in the range 33–126. */
export const CLIENT_TOKEN_PATTERN = /^[\x21-\x7e]{1,64}$/;
/** How long a request waits for an earlier one with the same clientToken to finish. */
const CLIENT_TOKEN_WAIT_MS = 10_000;

/**
 * RunTask: resolve the cluster and task definition, compile the placement constraints and
 * strategies once, let the planner place the tasks on a snapshot of the cluster's instances
 * (ECS semantics: feasibility, constraints, chained strategies, random by default), commit the plan to state (re-planning what state
 * rejects against a fresh snapshot), then tell the chosen agents to start the tasks. With a
 * clientToken, a retry of the same request returns the tasks the first one created.
 */
@Injectable()
export class RunTaskUseCase {
  /** The tail of each cluster's placement queue (see `oneAtATime`). */
  private readonly placing = new Map<string, Promise<unknown>>();
  private readonly launcher: TaskLauncher;
  private readonly planner: Planner;

  constructor(
    @Inject(STATE_CLIENT) private readonly state: stateV1.StateServiceClient,
    agents: AgentClients,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SCHEDULER_CONFIG) config: SchedulerConfig,
    @Optional() @Inject(PLANNER) planner?: Planner,
  ) {
    this.launcher = new TaskLauncher(state, agents, logger, config);
    this.planner = planner ?? createPlanner();
  }

  async execute(req: schedulerV1.RunTaskRequest): Promise<schedulerV1.RunTaskResponse> {
    const count = req.count === 0 ? 1 : req.count;
    if (!Number.isInteger(count) || count < 1 || count > MAX_RUN_TASK_COUNT) {
      throw new InvalidParameterError(`count must be between 1 and ${MAX_RUN_TASK_COUNT}.`);
    }
    const clientToken = req.clientToken ?? '';
    if (clientToken && !CLIENT_TOKEN_PATTERN.test(clientToken)) {
      throw new InvalidParameterError(
        'clientToken must be 1 to 64 characters in the range 33-126.',
      );
    }
    const launch = await this.launcher.resolve(req);
    const options = compileRequestOptions({
      constraintsJson: req.placementConstraintsJson,
      strategyJson: req.placementStrategyJson,
      definition: launch.definition,
    });
    const candidates: common.Task[] = Array.from({ length: count }, () =>
      this.launcher.newTask(launch, { ...req, launchType: req.launchType }),
    );
    const cluster = launch.cluster.clusterName;

    if (clientToken) {
      const earlier = await this.reserveToken(cluster, clientToken, requestHash(req, count));
      if (earlier) return earlier;
    }
    let response: schedulerV1.RunTaskResponse;
    try {
      response = await this.place(launch, candidates, options);
    } catch (err) {
      if (clientToken) await this.releaseToken(cluster, clientToken);
      throw err;
    }
    if (clientToken) {
      await firstValueFrom(
        this.state.completeClientToken({
          cluster,
          clientToken,
          taskArns: response.tasks.map((t) => t.taskArn),
          failuresJson: JSON.stringify(response.failures),
        }),
      );
    }
    return response;
  }

  private async place(
    launch: Launch,
    candidates: common.Task[],
    options: CompiledPlacementOptions,
  ): Promise<schedulerV1.RunTaskResponse> {
    const cluster = launch.cluster.clusterName;
    const { committed, failures } = await this.oneAtATime(cluster, () =>
      this.placeAndCommit(cluster, candidates, launch, options),
    );
    const tasks = await this.launcher.startOnAgents(cluster, committed, launch.taskDefinition);
    this.logger.info(
      {
        cluster,
        taskDefinition: launch.taskDefinition.taskDefinitionArn,
        placed: tasks.length,
        failed: failures.length,
      },
      'RunTask placed',
    );
    return { tasks, failures, clientTokenConflict: false, conflictingTaskArns: [] };
  }

  /**
   * Owns the token (undefined: go on and run the request), or answers from the earlier
   * request: the same request gets its tasks as they are now; another request a conflict.
   */
  private async reserveToken(
    cluster: string,
    clientToken: string,
    hash: string,
  ): Promise<schedulerV1.RunTaskResponse | undefined> {
    const deadline = Date.now() + CLIENT_TOKEN_WAIT_MS;
    for (;;) {
      const r = await firstValueFrom(
        this.state.reserveClientToken({ cluster, clientToken, requestHash: hash }),
      );
      if (r.reserved) return undefined;
      if (r.requestHash !== hash) {
        return {
          tasks: [],
          failures: [],
          clientTokenConflict: true,
          conflictingTaskArns: r.taskArns,
        };
      }
      if (r.completed) {
        const described = r.taskArns.length
          ? await firstValueFrom(this.state.describeTasks({ cluster, tasks: r.taskArns }))
          : { tasks: [] };
        const failures = JSON.parse(r.failuresJson || '[]') as common.Failure[];
        return {
          tasks: described.tasks,
          failures,
          clientTokenConflict: false,
          conflictingTaskArns: [],
        };
      }
      if (Date.now() > deadline) {
        throw new WharfError(
          'ConflictException',
          GrpcCode.ABORTED,
          `A RunTask request with clientToken ${clientToken} is still in progress; retry later.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async releaseToken(cluster: string, clientToken: string): Promise<void> {
    try {
      await firstValueFrom(this.state.releaseClientToken({ cluster, clientToken }));
    } catch (err) {
      this.logger.warn({ err, cluster }, 'could not release a RunTask clientToken');
    }
  }

  /**
   * Places one RunTask at a time per cluster in this process. Concurrent calls would plan on
   * the same snapshot, so state would reject all but the first as STALE (each commit bumps the
   * instance version) and, with a few calls at once, run out of attempts (5 concurrent RunTasks
   * of 10 on one instance failed that way). Planning and committing take milliseconds;
   * starting on the agents happens outside the queue.
   */
  private oneAtATime<T>(cluster: string, work: () => Promise<T>): Promise<T> {
    const previous = this.placing.get(cluster) ?? Promise.resolve();
    const result = previous.then(work);
    const tail = result.catch(() => undefined);
    this.placing.set(cluster, tail);
    void tail.then(() => {
      if (this.placing.get(cluster) === tail) this.placing.delete(cluster);
    });
    return result;
  }

  private async placeAndCommit(
    cluster: string,
    candidates: common.Task[],
    launch: Launch,
    options: CompiledPlacementOptions,
  ): Promise<{ committed: Committed[]; failures: common.Failure[] }> {
    const committed: Committed[] = [];
    const failures: common.Failure[] = [];
    const group = candidates[0].group;
    // The expected version guards decisions that depend on the instance's other tasks. Without
    // such constraints the last attempt commits with no expected version: state's resource
    // check under the row lock is then the whole verdict, so a task that fits is not failed
    // for losing races to other replicas.
    const versionMatters =
      options.distinctInstance || options.memberOf.some((c) => c.query.dynamic);
    let pending = candidates;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const checkVersion = versionMatters || attempt < MAX_PLACEMENT_ATTEMPTS;
      const containerInstances = await this.launcher.listInstances(cluster);
      const byArn = new Map(containerInstances.map((i) => [i.containerInstanceArn, i]));
      const plan = this.planner.plan(
        toSnapshot(containerInstances),
        this.launcher.placementRequest(launch, group, pending.length),
        options,
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
      const placedCandidates: common.Task[] = [];
      plan.placements.forEach((p, i) => {
        if (!p.placed) {
          failures.push({ ...p.failure });
          return;
        }
        const instance = byArn.get(p.instanceArn)!;
        const task = { ...pending[i], containerInstanceArn: p.instanceArn };
        placements.push({ task, expectedInstanceVersion: checkVersion ? instance.version : 0 });
        placedCandidates.push(task);
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
}

/** What makes two RunTask requests "the same" for clientToken idempotency. */
export function requestHash(req: schedulerV1.RunTaskRequest, count: number): string {
  const canonical = JSON.stringify([
    clusterNameOf(req.cluster),
    req.taskDefinition,
    count,
    req.group,
    req.startedBy,
    req.overridesJson,
    req.tagsJson,
    req.launchType || 'EC2',
    req.placementConstraintsJson ?? '',
    req.placementStrategyJson ?? '',
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
