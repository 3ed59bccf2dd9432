import { clusterNameOf, ClusterNotFoundError } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import type { TaskRepository } from './task.repository';
import {
  MAX_TASKS_PER_PROTECTION_GET,
  requestedTasks,
  sortRequested,
  toProtectedTask,
} from './update-task-protection.use-case';

/**
 * ECS GetTaskProtection: the protection of 1–100 tasks, in the order asked; protection whose
 * time has passed reads as disabled (no expiration date). Unknown tasks are `MISSING`, tasks
 * not part of a service `TASK_NOT_VALID` failures.
 */
export class GetTaskProtectionQuery {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly tasks: TaskRepository,
  ) {}

  async execute(req: stateV1.GetTaskProtectionRequest): Promise<stateV1.TaskProtectionResponse> {
    const requested = requestedTasks(req.tasks, MAX_TASKS_PER_PROTECTION_GET);
    const cluster = clusterNameOf(req.cluster);
    if (!(await this.clusters.exists(this.ctx.pool, cluster))) throw new ClusterNotFoundError();
    const rows = await this.tasks.findByIds(this.ctx.pool, cluster, [...requested.keys()]);
    const { valid, failures } = sortRequested(
      this.ctx.arn,
      cluster,
      requested,
      new Map(rows.map((r) => [r.id, r])),
      false,
    );
    const now = Date.now();
    return { protectedTasks: valid.map((t) => toProtectedTask(t, now)), failures };
  }
}
