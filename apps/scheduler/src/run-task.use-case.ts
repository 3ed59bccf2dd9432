import { Inject, Injectable } from '@nestjs/common';
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
import { compileRequestOptions } from './placement-options';
import { PlacementBatcher } from './placement-batcher';
import { Launch, TaskLauncher } from './task-launch';
import { LOGGER, STATE_CLIENT } from './tokens';

export const MAX_RUN_TASK_COUNT = 10;
/** ECS: a clientToken has at most 64 characters in the range 33–126. */
export const CLIENT_TOKEN_PATTERN = /^[\x21-\x7e]{1,64}$/;
/** How long a request waits for an earlier one with the same clientToken to finish. */
const CLIENT_TOKEN_WAIT_MS = 10_000;
/** A client token this request reserved: it alone completes or releases it. */
interface Reservation {
  cluster: string;
  clientToken: string;
  reservation: string;
}

/** Tries at recording a RunTask answer under its client token before giving up (logged). */
const COMPLETE_TOKEN_ATTEMPTS = 3;

/**
 * RunTask: resolve the cluster and task definition, compile the placement constraints and
 * strategies once, hand the tasks to the cluster's placement batcher (the planner places them
 * on the cluster snapshot with ECS semantics — feasibility, constraints, chained strategies,
 * random by default — and state commits them with the other requests of the batch), then
 * tell the chosen agents to start them, in parallel. With a clientToken, a retry of the same
 * request returns the tasks the first one created.
 */
@Injectable()
export class RunTaskUseCase {
  constructor(
    @Inject(STATE_CLIENT) private readonly state: stateV1.StateServiceClient,
    private readonly launcher: TaskLauncher,
    private readonly batcher: PlacementBatcher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

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

    let token: Reservation | undefined;
    if (clientToken) {
      const reserved = await this.reserveToken(cluster, clientToken, requestHash(req, count));
      if ('earlier' in reserved) return reserved.earlier;
      token = { cluster, clientToken, reservation: reserved.reservation };
    }
    let response: schedulerV1.RunTaskResponse;
    try {
      response = await this.place(launch, candidates, options);
    } catch (err) {
      if (token) await this.releaseToken(token);
      throw err;
    }
    if (token) await this.completeToken(token, response);
    return response;
  }

  /**
   * Records the answer under its client token, trying three times. The tasks are placed and
   * started whatever happens here, so a failure is logged, not answered: an error would make
   * the caller retry what succeeded.
   */
  private async completeToken(
    token: Reservation,
    response: schedulerV1.RunTaskResponse,
  ): Promise<void> {
    const { cluster, clientToken } = token;
    const request = {
      ...token,
      taskArns: response.tasks.map((t) => t.taskArn),
      failuresJson: JSON.stringify(response.failures),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await firstValueFrom(this.state.completeClientToken(request));
        return;
      } catch (err) {
        if (attempt === COMPLETE_TOKEN_ATTEMPTS) {
          this.logger.error(
            { err, cluster, clientToken, tasks: request.taskArns },
            'RunTask succeeded but its client token could not be completed; a retry with this token may run again once the reservation lapses',
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  private async place(
    launch: Launch,
    candidates: common.Task[],
    options: CompiledPlacementOptions,
  ): Promise<schedulerV1.RunTaskResponse> {
    const cluster = launch.cluster.clusterName;
    const { committed, failures } = await this.batcher.place(cluster, {
      launch,
      tasks: candidates,
      options,
    });
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
  ): Promise<{ reservation: string } | { earlier: schedulerV1.RunTaskResponse }> {
    const deadline = Date.now() + CLIENT_TOKEN_WAIT_MS;
    for (;;) {
      const r = await firstValueFrom(
        this.state.reserveClientToken({ cluster, clientToken, requestHash: hash }),
      );
      if (r.reserved) return { reservation: r.reservation };
      if (r.requestHash !== hash) {
        return {
          earlier: {
            tasks: [],
            failures: [],
            clientTokenConflict: true,
            conflictingTaskArns: r.taskArns,
          },
        };
      }
      if (r.completed) {
        const described = r.taskArns.length
          ? await firstValueFrom(this.state.describeTasks({ cluster, tasks: r.taskArns }))
          : { tasks: [] };
        const failures = JSON.parse(r.failuresJson || '[]') as common.Failure[];
        return {
          earlier: {
            tasks: described.tasks,
            failures,
            clientTokenConflict: false,
            conflictingTaskArns: [],
          },
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

  private async releaseToken(token: Reservation): Promise<void> {
    try {
      await firstValueFrom(this.state.releaseClientToken(token));
    } catch (err) {
      this.logger.warn({ err, cluster: token.cluster }, 'could not release a RunTask clientToken');
    }
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
