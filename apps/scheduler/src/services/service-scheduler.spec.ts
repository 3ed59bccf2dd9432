import type { NatsConnection } from '@nats-io/nats-core';
import { createLogger } from '@wharf/observability';
import type { common, stateV1 } from '@wharf/proto';
import { eventually } from '@wharf/testing';
import { of } from 'rxjs';
import type { ClusterSnapshots } from '../cluster-snapshots';
import type { LaunchRedelivery } from '../launch-redelivery';
import type { PlacementBatcher } from '../placement-batcher';
import type { Planner } from '../planner';
import type { StopTaskUseCase } from '../stop-task.use-case';
import type { TaskLauncher } from '../task-launch';
import { ServiceScheduler } from './service-scheduler';
import { DEFAULT_STEP_SETTINGS } from './service-step';

const CLUSTER_ARN = 'arn:aws:ecs:us-east-1:000000000000:cluster/c';
const INSTANCE_ARN = 'arn:aws:ecs:us-east-1:000000000000:container-instance/c/lost';

/** A host whose agent went silent. */
const silent = {
  containerInstanceArn: INSTANCE_ARN,
  clusterArn: CLUSTER_ARN,
  status: 'ACTIVE',
  agentConnected: false,
} as common.ContainerInstance;

describe('ServiceScheduler', () => {
  it('replaces a lost host’s tasks once it leads, when the host was lost while it did not', async () => {
    let leader = false;
    const lost: string[] = [];
    const swept: string[] = [];
    const launches = {
      sweep: (cluster: string) => {
        swept.push(cluster);
        return Promise.resolve(0);
      },
    } as unknown as LaunchRedelivery;
    const state = {
      acquireLease: () => of({ held: leader }),
      releaseLease: () => of({}),
      listClusters: () => of({ clusterArns: [CLUSTER_ARN], nextToken: '' }),
      listServices: () => of({ serviceArns: [], nextToken: '' }),
      markInstanceTasksLost: (req: stateV1.MarkInstanceTasksLostRequest) => {
        lost.push(req.containerInstance);
        return of({ tasks: [] });
      },
    } as unknown as stateV1.StateServiceClient;
    const view = {
      instances: () => [{ arn: INSTANCE_ARN }],
      record: () => silent,
    };
    const snapshots = { get: () => Promise.resolve(view) } as unknown as ClusterSnapshots;
    const nc = { subscribe: () => ({ unsubscribe: () => undefined }) } as unknown as NatsConnection;
    const scheduler = new ServiceScheduler(
      state,
      {} as TaskLauncher,
      {} as PlacementBatcher,
      {} as StopTaskUseCase,
      snapshots,
      {} as Planner,
      launches,
      createLogger('test', 'silent'),
      {
        ...DEFAULT_STEP_SETTINGS,
        reconcileIntervalMs: 60_000,
        holder: 'replica-a',
        leaseTtlMs: 300,
        lostInstanceGraceMs: 0,
      },
    );
    scheduler.start(nc);
    try {
      // Seen lost while another replica leads (or none does): nothing is done here…
      scheduler.instanceChanged('c', silent);
      await new Promise((r) => setTimeout(r, 50));
      expect(lost).toEqual([]);
      expect(swept).toEqual([]);
      // …and once this replica leads, its first full pass finds the host and acts (and looks
      // for launches no agent reported on).
      leader = true;
      await eventually(
        async () => (lost.length > 0 ? true : undefined),
        'lost host handled',
        5_000,
      );
      expect(lost).toEqual([INSTANCE_ARN]);
      expect(swept).toContain('c');
    } finally {
      await scheduler.stop();
    }
  });
});
