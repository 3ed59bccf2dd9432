import { firstValueFrom, timeout } from 'rxjs';
import type { GrpcClient, stateV1 } from '@wharf/proto';
import type { TargetHealthReport } from './health-checker';
import type { ModelSnapshot } from './lb-model';

/**
 * What the lb needs from state, behind a narrow port so that tests can run the data plane
 * on a model they feed themselves.
 */
export interface LbStateSource {
  /** every load balancer resource and every target, with their versions */
  readAll(): Promise<ModelSnapshot>;
  reportTargetHealth(reports: TargetHealthReport[]): Promise<void>;
}

const RPC_TIMEOUT_MS = 10_000;

/** The state service over gRPC. */
export class GrpcLbStateSource implements LbStateSource {
  constructor(private readonly state: GrpcClient<stateV1.StateServiceClient>) {}

  async readAll(): Promise<ModelSnapshot> {
    const [resources, targets] = await Promise.all([
      firstValueFrom(
        this.state.client
          .listLbResources({ kind: '', parentArn: '', arns: [], names: [] })
          .pipe(timeout(RPC_TIMEOUT_MS)),
      ),
      firstValueFrom(
        this.state.client
          .describeTargetHealth({ targetGroupArn: '', targets: [] })
          .pipe(timeout(RPC_TIMEOUT_MS)),
      ),
    ]);
    return { resources: resources.resources ?? [], targets: targets.targets ?? [] };
  }

  async reportTargetHealth(reports: TargetHealthReport[]): Promise<void> {
    await firstValueFrom(
      this.state.client.reportTargetHealth({ reports }).pipe(timeout(RPC_TIMEOUT_MS)),
    );
  }
}
