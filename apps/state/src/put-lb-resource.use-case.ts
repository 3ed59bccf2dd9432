import type { PoolClient } from 'pg';
import {
  Action,
  elbArns,
  InvalidParameterError,
  LbResourceKind,
  LoadBalancer,
  TargetGroup,
  targetGroupArnsOf,
  validateListener,
  validateLoadBalancer,
  validateRule,
  validateTargetGroup,
} from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { inTransaction } from './db';
import {
  lbKindOf,
  LbRepository,
  LbResourceRow,
  lbResourceNotFound,
  newElbResourceId,
} from './lb.repository';
import { lbResourceEvent, OutboxRepository } from './outbox.repository';
import { canonicalJson } from './service.repository';

interface Normalized {
  arn: string;
  name: string;
  parentArn: string | null;
  spec: { [member: string]: unknown };
}

/**
 * PutLbResource: validates a load balancer, listener, rule or target group (its *Input JSON),
 * checks what it refers to and creates it (arn '') or replaces it (arn given), writing
 * `lb_resource.changed`. The references are locked for share, so a load balancer, listener or
 * target group cannot be deleted while a resource referring to it is being written. Names,
 * target types and parents are fixed once created (they are part of the ARNs, or ELBv2 does
 * not allow changing them). Putting an unchanged spec changes nothing.
 */
export class PutLbResourceUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly resources: LbRepository,
    private readonly outbox: OutboxRepository,
  ) {}

  async execute(req: stateV1.PutLbResourceRequest): Promise<stateV1.LbResource> {
    const kind = lbKindOf(req.kind);
    const input = parseSpec(req.specJson);
    return inTransaction(this.ctx.pool, async (tx) => {
      const existing = req.arn ? await this.resources.get(tx, kind, req.arn, 'update') : undefined;
      const next = await this.normalize(tx, kind, input, existing);
      if (existing) {
        if (canonicalJson(existing.spec) === canonicalJson(next.spec)) {
          return this.resources.toProto(existing);
        }
        const row = await this.resources.replace(tx, existing, next.spec);
        const resource = this.resources.toProto(row);
        await this.outbox.append(tx, lbResourceEvent('changed', resource));
        return resource;
      }
      const row = await this.resources.insert(tx, { kind, ...next });
      const resource = this.resources.toProto(row);
      await this.outbox.append(tx, lbResourceEvent('changed', resource));
      return resource;
    });
  }

  private async normalize(
    tx: PoolClient,
    kind: LbResourceKind,
    input: unknown,
    existing: LbResourceRow | undefined,
  ): Promise<Normalized> {
    switch (kind) {
      case 'load-balancer': {
        const lb = validateLoadBalancer(input);
        const old = existing?.spec as LoadBalancer | undefined;
        if (old && old.loadBalancerName !== lb.loadBalancerName) {
          throw new InvalidParameterError(
            `name: a load balancer cannot be renamed ('${old.loadBalancerName}')`,
          );
        }
        const arn =
          existing?.arn ??
          elbArns.loadBalancer(this.ctx.arn, lb.loadBalancerName, newElbResourceId());
        const spec = { ...lb, loadBalancerArn: arn, createdTime: old?.createdTime ?? Date.now() };
        return { arn, name: lb.loadBalancerName, parentArn: null, spec };
      }
      case 'listener': {
        const listener = validateListener(input);
        this.sameParent(existing, listener.loadBalancerArn, 'loadBalancerArn');
        await this.resources.get(tx, 'load-balancer', listener.loadBalancerArn, 'share');
        await this.checkTargetGroups(tx, listener.defaultActions);
        const arn = existing?.arn ?? elbArns.listener(listener.loadBalancerArn, newElbResourceId());
        const spec = { ...listener, listenerArn: arn };
        return { arn, name: '', parentArn: listener.loadBalancerArn, spec };
      }
      case 'rule': {
        const rule = validateRule(input);
        this.sameParent(existing, rule.listenerArn, 'listenerArn');
        await this.resources.get(tx, 'listener', rule.listenerArn, 'share');
        await this.checkTargetGroups(tx, rule.actions);
        const arn = existing?.arn ?? elbArns.rule(rule.listenerArn, newElbResourceId());
        return { arn, name: '', parentArn: rule.listenerArn, spec: { ...rule, ruleArn: arn } };
      }
      case 'target-group': {
        const tg = validateTargetGroup(input);
        const old = existing?.spec as TargetGroup | undefined;
        if (old && old.targetGroupName !== tg.targetGroupName) {
          throw new InvalidParameterError(
            `name: a target group cannot be renamed ('${old.targetGroupName}')`,
          );
        }
        if (old && old.targetType !== tg.targetType) {
          throw new InvalidParameterError(
            `targetType: the target type of a target group cannot be changed ('${old.targetType}')`,
          );
        }
        const arn =
          existing?.arn ??
          elbArns.targetGroup(this.ctx.arn, tg.targetGroupName, newElbResourceId());
        return {
          arn,
          name: tg.targetGroupName,
          parentArn: null,
          spec: { ...tg, targetGroupArn: arn },
        };
      }
    }
  }

  private sameParent(existing: LbResourceRow | undefined, parentArn: string, member: string) {
    if (existing && existing.parent_arn !== parentArn) {
      throw new InvalidParameterError(`${member} cannot be changed ('${existing.parent_arn}')`);
    }
  }

  /** Every target group an action forwards to exists (and stays until this commits). */
  private async checkTargetGroups(tx: PoolClient, actions: Action[]): Promise<void> {
    for (const arn of targetGroupArnsOf(actions)) {
      const row = await this.resources.find(tx, arn, 'share');
      if (!row || row.kind !== 'target-group') throw lbResourceNotFound('target-group', arn);
    }
  }
}

function parseSpec(specJson: string): unknown {
  try {
    return JSON.parse(specJson) as unknown;
  } catch {
    throw new InvalidParameterError('specJson is not valid JSON');
  }
}
