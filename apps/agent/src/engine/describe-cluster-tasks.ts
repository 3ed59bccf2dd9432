import { firstValueFrom } from 'rxjs';
import type { stateV1 } from '@wharf/proto';
import type { ClusterTaskView } from './task-engine';

const BATCH = 100;

/** state DescribeTasks for the given task ARNs, in batches; unknown ARNs are left out. */
export async function describeClusterTasks(
  state: stateV1.StateServiceClient,
  cluster: string,
  taskArns: string[],
): Promise<ClusterTaskView[]> {
  const out: ClusterTaskView[] = [];
  for (let i = 0; i < taskArns.length; i += BATCH) {
    const res = await firstValueFrom(
      state.describeTasks({ cluster, tasks: taskArns.slice(i, i + BATCH) }),
    );
    for (const t of res.tasks) {
      out.push({
        taskArn: t.taskArn,
        desiredStatus: t.desiredStatus,
        stopCode: t.stopCode,
        stoppedReason: t.stoppedReason,
      });
    }
  }
  return out;
}
