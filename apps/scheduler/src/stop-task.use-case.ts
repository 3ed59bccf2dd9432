import { Inject, Injectable } from '@nestjs/common';
import { clusterNameOf, InvalidParameterError } from '@wharf/domain';
import { common, schedulerV1, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { firstValueFrom } from 'rxjs';
import { AgentClients } from './agent-clients';
import type { SchedulerConfig } from './config';
import { LOGGER, SCHEDULER_CONFIG, STATE_CLIENT } from './tokens';

/** What ECS records as stoppedReason when StopTask is called without a reason. */
export const DEFAULT_STOP_REASON = 'Task stopped by user';

/**
 * StopTask: state records the intent (desiredStatus STOPPED, stopCode UserInitiated), then the
 * task's agent is told to stop the containers. The agent reports STOPPED over NATS; if it
 * cannot be reached now, the recorded desired status stands and the call still succeeds.
 */
@Injectable()
export class StopTaskUseCase {
  constructor(
    @Inject(STATE_CLIENT) private readonly state: stateV1.StateServiceClient,
    private readonly agents: AgentClients,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
  ) {}

  async execute(req: schedulerV1.StopTaskRequest): Promise<schedulerV1.StopTaskResponse> {
    if (!req.task) throw new InvalidParameterError('task is required');
    const reason = req.reason || DEFAULT_STOP_REASON;
    return { task: await this.stop(clusterNameOf(req.cluster), req.task, reason, 'UserInitiated') };
  }

  /**
   * Records the stop (desired STOPPED, reason, stop code: UserInitiated for StopTask,
   * ServiceSchedulerInitiated for a service's tasks) and tells the task's agent. With a `fence`,
   * state records it only while `holder` holds `lease` (and the agent is not told otherwise).
   */
  async stop(
    cluster: string,
    taskRef: string,
    reason: string,
    stopCode: string,
    fence?: { lease: string; holder: string },
  ): Promise<common.Task> {
    const task = await firstValueFrom(
      this.state.markTaskStopping({
        cluster,
        task: taskRef,
        reason,
        stopCode,
        fenceLease: fence?.lease,
        fenceHolder: fence?.holder,
      }),
    );
    if (task.containerInstanceArn && task.lastStatus !== 'STOPPED') {
      await this.tellAgent(
        cluster,
        task.containerInstanceArn,
        task.taskArn,
        task.stoppedReason || reason,
        stopCode,
      );
    }
    return task;
  }

  private async tellAgent(
    cluster: string,
    instanceArn: string,
    taskArn: string,
    reason: string,
    stopCode: string,
  ) {
    try {
      const { containerInstances } = await firstValueFrom(
        this.state.describeContainerInstances({ cluster, containerInstances: [instanceArn] }),
      );
      const address = containerInstances[0]?.agentAddress;
      if (!address) throw new Error('the container instance has no agent address');
      await this.agents.call(
        address,
        (agent) => agent.stopTask({ taskArn, reason, stopCode }),
        this.config.AGENT_CALL_TIMEOUT_MS,
      );
    } catch (err) {
      this.logger.warn(
        {
          cluster,
          task: taskArn,
          instance: instanceArn,
          err: err instanceof Error ? err.message : err,
        },
        'could not tell the agent to stop the task; it stays desired STOPPED',
      );
    }
  }
}
