import { isIP } from 'node:net';
import type { PoolClient } from 'pg';
import { InvalidParameterError, InvalidTargetError, TargetGroup } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import type { LbRepository } from './lb.repository';
import { OutboxRepository, targetEvent } from './outbox.repository';
import { inLockOrder, type TargetKey, type TargetRepository } from './target.repository';

/**
 * RegisterTargets: adds targets to a group in state `initial`, or re-activates draining ones
 * (and restarts one registered again for another task); a target registered again as it is
 * stays as it is, with no event. Returns the requested targets as they now are.
 */
export class RegisterTargetsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly resources: LbRepository,
    private readonly targets: TargetRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.RegisterTargetsRequest): Promise<stateV1.TargetsResponse> {
    return inTransaction(this.ctx.pool, async (tx) => {
      const group = await lockedTargetGroup(tx, this.resources, req.targetGroupArn);
      const refs = targetRefs(req.targets, group, true);
      const changed: stateV1.LbTarget[] = [];
      for (const ref of inLockOrder(refs, (r) => r.key)) {
        if (group.targetType === 'ip' && isIP(ref.id) === 0) {
          throw new InvalidTargetError(
            `The IP address '${ref.id}' is not valid for target group '${group.targetGroupArn}' (target type ip)`,
          );
        }
        const row = await this.targets.register(tx, {
          ...ref.key,
          host: ref.ref.host || ref.id,
          taskArn: ref.ref.taskArn,
          serviceArn: ref.ref.serviceArn,
        });
        if (row) changed.push(this.targets.toProto(row));
      }
      await this.outbox.appendMany(
        tx,
        changed.map((t) => targetEvent('changed', t)),
      );
      return { targets: await currentTargets(tx, this.targets, refs) };
    });
  }
}

/** The target group, locked for share (it cannot be deleted until this commits). */
export async function lockedTargetGroup(
  tx: PoolClient,
  resources: LbRepository,
  targetGroupArn: string,
): Promise<TargetGroup> {
  if (!targetGroupArn) throw new InvalidParameterError('targetGroupArn is required');
  const row = await resources.get(tx, 'target-group', targetGroupArn, 'share');
  return row.spec as TargetGroup;
}

export interface ResolvedRef {
  id: string;
  key: TargetKey;
  ref: stateV1.TargetRef;
}

/** Request targets with their ports (0 = the group's), each once (the last one given wins). */
export function targetRefs(
  targets: stateV1.TargetRef[],
  group: TargetGroup,
  required: boolean,
): ResolvedRef[] {
  if (required && targets.length === 0) {
    throw new InvalidParameterError('targets must name at least one target');
  }
  const byKey = new Map<string, ResolvedRef>();
  targets.forEach((ref, i) => {
    if (!ref.id) throw new InvalidParameterError(`targets[${i}].id is required`);
    const port = ref.port || group.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidParameterError(`targets[${i}].port must be from 1 to 65535, not ${port}`);
    }
    const key = { targetGroupArn: group.targetGroupArn, id: ref.id, port };
    byKey.set(`${ref.id}:${port}`, { id: ref.id, key, ref });
  });
  return [...byKey.values()];
}

/** The targets as they are now, in request order; unregistered ones are left out. */
export async function currentTargets(
  tx: PoolClient,
  targets: TargetRepository,
  refs: ResolvedRef[],
): Promise<stateV1.LbTarget[]> {
  const out: stateV1.LbTarget[] = [];
  for (const ref of refs) {
    const row = await targets.find(tx, ref.key);
    if (row) out.push(targets.toProto(row));
  }
  return out;
}
