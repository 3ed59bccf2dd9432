import { Inject, Injectable } from '@nestjs/common';
import { InvalidParameterError, PlacementExplanation, PlannedTask } from '@wharf/domain';
import { schedulerV1 } from '@wharf/proto';
import { compileRequestOptions } from './placement-options';
import { Planner, toSnapshot } from './planner';
import { MAX_RUN_TASK_COUNT } from './run-task.use-case';
import { TaskLauncher } from './task-launch';
import { PLANNER } from './tokens';

/** What `Explain` answers (as JSON): the next task's verdicts and the plan of all `count`. */
export interface ExplainJson extends PlacementExplanation {
  cluster: string;
  taskDefinitionArn: string;
  count: number;
  /** Where RunTask would put each of the `count` tasks on this snapshot (one random draw). */
  plan: PlannedTask[];
}

/**
 * Explain: resolves the task definition, overrides and placement options exactly as RunTask
 * does (the same InvalidParameterException for a bad expression), reads a fresh snapshot of
 * the cluster and asks the planner why each instance would or would not take the next task.
 * Commits nothing.
 */
@Injectable()
export class ExplainUseCase {
  constructor(
    private readonly launcher: TaskLauncher,
    @Inject(PLANNER) private readonly planner: Planner,
  ) {}

  async execute(req: schedulerV1.ExplainRequest): Promise<schedulerV1.ExplainResponse> {
    const count = req.count === 0 ? 1 : req.count;
    if (!Number.isInteger(count) || count < 1 || count > MAX_RUN_TASK_COUNT) {
      throw new InvalidParameterError(`count must be between 1 and ${MAX_RUN_TASK_COUNT}.`);
    }
    const launch = await this.launcher.resolve(req);
    const options = compileRequestOptions({
      constraintsJson: req.placementConstraintsJson,
      strategyJson: req.placementStrategyJson,
      definition: launch.definition,
    });
    const group = req.group || `family:${launch.taskDefinition.family}`;
    const snapshot = toSnapshot(await this.launcher.listInstances(launch.cluster.clusterName));
    const request = this.launcher.placementRequest(launch, group, count);
    const plan = this.planner.plan(snapshot, request, options);
    const explanation: ExplainJson = {
      cluster: launch.cluster.clusterName,
      taskDefinitionArn: launch.taskDefinition.taskDefinitionArn,
      count,
      ...this.planner.explain(snapshot, request, options),
      plan: plan.kind === 'plan' ? plan.placements : [],
    };
    return { explanationJson: JSON.stringify(explanation) };
  }
}
