import { InvalidParameterError, TargetGroup } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { lbKindOf, LbRepository } from './lb.repository';
import { targetRefs } from './register-targets.use-case';
import { TARGET_HEALTH, TargetRepository } from './target.repository';

/** Reads of load balancer resources and targets. */
export class LbQueries {
  constructor(
    private readonly ctx: StateContext,
    private readonly resources: LbRepository,
    private readonly targets: TargetRepository,
  ) {}

  async listLbResources(
    req: stateV1.ListLbResourcesRequest,
  ): Promise<stateV1.ListLbResourcesResponse> {
    const rows = await this.resources.list(this.ctx.pool, {
      kind: req.kind ? lbKindOf(req.kind) : undefined,
      parentArn: req.parentArn,
      arns: req.arns,
      names: req.names,
    });
    return { resources: rows.map((r) => this.resources.toProto(r)) };
  }

  /**
   * A group's targets ('' = every group's), or the named ones of a group; a named target that
   * is not registered is answered as ELBv2 does: `unused`, Target.NotRegistered.
   */
  async describeTargetHealth(
    req: stateV1.DescribeTargetHealthRequest,
  ): Promise<stateV1.TargetsResponse> {
    const pool = this.ctx.pool;
    if (!req.targetGroupArn) {
      if (req.targets.length > 0) {
        throw new InvalidParameterError('targets can only be given with a targetGroupArn');
      }
      return { targets: (await this.targets.list(pool, '')).map((t) => this.targets.toProto(t)) };
    }
    const row = await this.resources.get(pool, 'target-group', req.targetGroupArn);
    if (req.targets.length === 0) {
      const rows = await this.targets.list(pool, row.arn);
      return { targets: rows.map((t) => this.targets.toProto(t)) };
    }
    const out: stateV1.LbTarget[] = [];
    for (const ref of targetRefs(req.targets, row.spec as TargetGroup, false)) {
      const target = await this.targets.find(pool, ref.key);
      out.push(
        target
          ? this.targets.toProto(target)
          : {
              ...ref.key,
              host: '',
              taskArn: '',
              serviceArn: '',
              state: 'unused',
              ...TARGET_HEALTH.notRegistered,
              registeredAt: 0,
              drainingSince: 0,
              updatedAt: 0,
              version: 0,
            },
      );
    }
    return { targets: out };
  }
}
