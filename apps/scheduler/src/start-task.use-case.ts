import { Inject, Injectable } from '@nestjs/common';
import { compilePlacementOptions, InvalidParameterError, resourceIdOf } from '@wharf/domain';
import { common, schedulerV1, stateV1 } from '@wharf/proto';
import type { Logger } from 'pino';
import { firstValueFrom } from 'rxjs';
import { ClusterSnapshots } from './cluster-snapshots';
import { Planner, toSnapshot } from './planner';
import { Committed, TaskLauncher } from './task-launch';
import { LOGGER, PLANNER, STATE_CLIENT } from './tokens';

export const MAX_START_TASK_INSTANCES = 10;

/** state's CommitPlacements rejection reasons → ECS failure reasons. */
const FAILURE_REASON: Record<string, string> = {
  INSTANCE_NOT_FOUND: 'MISSING',
  INSTANCE_NOT_ACTIVE: 'INACTIVE',
};

/**
 * StartTask: one task on each named container instance. ECS takes no constraints or
 * strategies with StartTask (the caller chose the instances), but the task still has to be
 * feasible there: the planner checks each named instance alone for status, agent,
 * requiresAttributes, CPU/MEMORY/PORTS and the task definition's memberOf constraints
 * (failures MISSING, INACTIVE, AGENT, ATTRIBUTE, RESOURCE:*, MemberOf …). What passes is
 * committed without an expected version, so state's own check under the row lock stays the
 * final verdict (a concurrent commit that took the room fails RESOURCE:* there). An instance
 * named twice gets two tasks if both fit.
 */
@Injectable()
export class StartTaskUseCase {
  constructor(
    @Inject(STATE_CLIENT) private readonly state: stateV1.StateServiceClient,
    private readonly launcher: TaskLauncher,
    private readonly snapshots: ClusterSnapshots,
    @Inject(PLANNER) private readonly planner: Planner,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async execute(req: schedulerV1.StartTaskRequest): Promise<schedulerV1.StartTaskResponse> {
    if (
      req.containerInstances.length < 1 ||
      req.containerInstances.length > MAX_START_TASK_INSTANCES
    ) {
      throw new InvalidParameterError(
        `containerInstances must name between 1 and ${MAX_START_TASK_INSTANCES} container instances.`,
      );
    }
    const launch = await this.launcher.resolve(req);
    const cluster = launch.cluster.clusterName;
    const fields = { ...req, launchType: 'EC2' };
    const group = req.group || `family:${launch.taskDefinition.family}`;
    const options = compilePlacementOptions({
      taskDefinitionConstraints: launch.definition.placementConstraints ?? [],
    });

    const { containerInstances } = await firstValueFrom(
      this.state.describeContainerInstances({
        cluster,
        containerInstances: req.containerInstances,
      }),
    );

    // Each named instance is planned alone (named k times: k tasks on it), so feasibility and
    // the task definition's constraints apply; there is nothing to choose, so no strategy.
    const snapshot = new Map(
      toSnapshot(containerInstances).instances.map((i) => [
        resourceIdOf(i.arn, 'container-instance'),
        i,
      ]),
    );
    const named = new Map<string, number[]>();
    for (const [position, ref] of req.containerInstances.entries()) {
      const id = resourceIdOf(ref, 'container-instance');
      named.set(id, [...(named.get(id) ?? []), position]);
    }
    // Failures are reported in the order the instances were named.
    const failed: { position: number; failure: common.Failure }[] = [];
    const placements: stateV1.Placement[] = [];
    const refs: { arn: string; position: number }[] = [];
    for (const [id, positions] of named) {
      const instance = snapshot.get(id);
      if (!instance) {
        for (const position of positions) {
          const arn = req.containerInstances[position];
          failed.push({ position, failure: { arn, reason: 'MISSING', detail: '' } });
        }
        continue;
      }
      const plan = this.planner.plan(
        { instances: [instance] },
        this.launcher.placementRequest(launch, group, positions.length),
        options,
      );
      positions.forEach((position, k) => {
        const p = plan.kind === 'plan' ? plan.placements[k] : undefined;
        if (!p?.placed) {
          failed.push({
            position,
            failure: p
              ? { ...p.failure, arn: instance.arn }
              : {
                  arn: instance.arn,
                  reason: 'INACTIVE',
                  detail: `the container instance is ${instance.status}`,
                },
          });
          return;
        }
        const task = {
          ...this.launcher.newTask(launch, fields),
          containerInstanceArn: instance.arn,
        };
        placements.push({ task, expectedInstanceVersion: 0, fenceLease: '', fenceHolder: '' });
        refs.push({ arn: instance.arn, position });
      });
    }

    const committed: Committed[] = [];
    if (placements.length > 0) {
      const result = await firstValueFrom(this.state.commitPlacements({ cluster, placements }));
      this.snapshots.applyCommitted(cluster, result.instances, result.instanceEventMessageIds);
      for (const r of result.rejected) {
        failed.push({
          position: refs[r.index]?.position ?? req.containerInstances.length,
          failure: {
            arn: refs[r.index]?.arn ?? '',
            reason: FAILURE_REASON[r.reason] ?? r.reason,
            detail: r.detail,
          },
        });
      }
      const agentOf = new Map(
        containerInstances.map((i) => [i.containerInstanceArn, i.agentAddress]),
      );
      for (const task of result.tasks) {
        committed.push({ task, agentAddress: agentOf.get(task.containerInstanceArn) ?? '' });
      }
    }
    const failures = failed.sort((a, b) => a.position - b.position).map((f) => f.failure);
    const tasks = await this.launcher.startOnAgents(cluster, committed, launch.taskDefinition);
    this.logger.info(
      {
        cluster,
        taskDefinition: launch.taskDefinition.taskDefinitionArn,
        started: tasks.length,
        failed: failures.length,
      },
      'StartTask committed',
    );
    return { tasks, failures };
  }
}
