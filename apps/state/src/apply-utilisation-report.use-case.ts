import { clusterNameOf, resourceIdOf } from '@wharf/domain';
import type { UtilisationReport } from '@wharf/messaging';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { NewSample, UtilisationRepository } from './utilisation.repository';

/**
 * Stores one agent utilisation report: a sample for the instance and one per task, then trims
 * each of them to the newest `historySamples`. No outbox event: samples are frequent and read
 * on demand (GetUtilisation). A redelivered report stores nothing new.
 */
export class ApplyUtilisationReportUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly utilisation: UtilisationRepository,
    private readonly historySamples: number,
  ) {}

  async execute(report: UtilisationReport): Promise<'applied' | 'invalid'> {
    if (!report.containerInstanceArn || !report.instance || !Array.isArray(report.tasks)) {
      return 'invalid';
    }
    const cluster = clusterNameOf(report.clusterArn);
    const instanceId = resourceIdOf(report.containerInstanceArn, 'container-instance');
    const sampledAt = report.sentAt || Date.now();
    const common = { cluster, containerInstanceArn: report.containerInstanceArn, sampledAt };
    const instanceSample: NewSample = {
      ...report.instance,
      ...common,
      scope: 'instance',
      resourceId: instanceId,
      taskCount: report.tasks.length,
    };
    const taskSamples: NewSample[] = report.tasks
      .filter((t) => typeof t?.taskArn === 'string' && t.taskArn)
      .map((t) => ({
        ...t,
        ...common,
        scope: 'task',
        resourceId: resourceIdOf(t.taskArn, 'task'),
        containers: t.containers ?? [],
      }));
    await inTransaction(this.ctx.pool, async (tx) => {
      await this.utilisation.insert(tx, [instanceSample, ...taskSamples]);
      await this.utilisation.trim(tx, 'instance', [instanceId], this.historySamples);
      await this.utilisation.trim(
        tx,
        'task',
        taskSamples.map((t) => t.resourceId),
        this.historySamples,
      );
    });
    return 'applied';
  }
}
