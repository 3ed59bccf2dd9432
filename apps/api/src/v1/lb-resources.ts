import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { firstValueFrom, Observable, timeout, TimeoutError } from 'rxjs';
import { GrpcCode, type LbResourceKind } from '@wharf/domain';
import { stateV1 } from '@wharf/proto';
import { API_LOGGER, STATE_CLIENT } from '../tokens';
import { fromStateError, V1Error } from './v1-error';

const STATE_TIMEOUT_MS = 10_000;

interface KindNames {
  /** as a message names it */
  label: string;
  /** the ELBv2 error name for a missing one */
  notFound: string;
  /** the ELBv2 error name for a taken name, port or priority */
  duplicate: string;
  /** load balancers and target groups have names; listeners and rules only ARNs */
  named: boolean;
}

export const LB_KINDS: Record<LbResourceKind, KindNames> = {
  'load-balancer': {
    label: 'Load balancer',
    notFound: 'LoadBalancerNotFoundException',
    duplicate: 'DuplicateLoadBalancerNameException',
    named: true,
  },
  listener: {
    label: 'Listener',
    notFound: 'ListenerNotFoundException',
    duplicate: 'DuplicateListenerException',
    named: false,
  },
  rule: {
    label: 'Rule',
    notFound: 'RuleNotFoundException',
    duplicate: 'PriorityInUseException',
    named: false,
  },
  'target-group': {
    label: 'Target group',
    notFound: 'TargetGroupNotFoundException',
    duplicate: 'DuplicateTargetGroupNameException',
    named: true,
  },
};

/** Names contain no colon (letters, digits, hyphens); every ARN starts with `arn:`. */
const isArn = (ref: string) => ref.startsWith('arn:');

/**
 * Load balancer resources and targets through state. Resources travel as their specs
 * (`spec_json`): the *Input a user sent in, the normalized spec state keeps out. State judges
 * every member; this only finds resources by ARN or name and maps state's errors.
 */
@Injectable()
export class LbResources {
  constructor(
    @Inject(STATE_CLIENT) private readonly state: stateV1.StateServiceClient,
    @Inject(API_LOGGER) private readonly logger: Logger,
  ) {}

  async create(
    kind: LbResourceKind,
    input: Record<string, unknown>,
    requestId?: string,
  ): Promise<stateV1.LbResource> {
    return this.call(
      kind,
      requestId,
      this.state.putLbResource({ kind, arn: '', specJson: JSON.stringify(input) }),
    );
  }

  async replace(
    kind: LbResourceKind,
    ref: string,
    input: Record<string, unknown>,
    requestId?: string,
  ): Promise<stateV1.LbResource> {
    const arn = await this.arnOf(kind, ref, requestId);
    return this.call(
      kind,
      requestId,
      this.state.putLbResource({ kind, arn, specJson: JSON.stringify(input) }),
    );
  }

  async delete(kind: LbResourceKind, ref: string, requestId?: string): Promise<stateV1.LbResource> {
    const arn = await this.arnOf(kind, ref, requestId);
    return this.call(kind, requestId, this.state.deleteLbResource({ kind, arn }));
  }

  /** Every resource of the kind (under `parentArn` when given), oldest first. */
  async list(
    kind: LbResourceKind,
    parentArn: string,
    requestId?: string,
  ): Promise<stateV1.LbResource[]> {
    const r = await this.call(
      kind,
      requestId,
      this.state.listLbResources({ kind, parentArn, arns: [], names: [] }),
    );
    return r.resources;
  }

  /** One resource by ARN, or by name for load balancers and target groups; 404 if none. */
  async find(kind: LbResourceKind, ref: string, requestId?: string): Promise<stateV1.LbResource> {
    const names = LB_KINDS[kind];
    this.checkRef(kind, ref);
    const byArn = isArn(ref);
    let found: stateV1.LbResource | undefined;
    try {
      const r = await this.call(
        kind,
        requestId,
        this.state.listLbResources({
          kind,
          parentArn: '',
          arns: byArn ? [ref] : [],
          names: byArn ? [] : [ref],
        }),
      );
      found = r.resources.find((res) => res.kind === kind && (byArn ? res.arn : res.name) === ref);
    } catch (err) {
      // An ARN state cannot read or does not have is as missing as one it lists nothing for.
      if (!(err instanceof V1Error && (err.status === 404 || err.status === 400))) throw err;
    }
    if (!found) throw new V1Error(404, names.notFound, `${names.label} ${ref} not found.`);
    return found;
  }

  async describeTargetHealth(
    targetGroupArn: string,
    requestId?: string,
  ): Promise<stateV1.LbTarget[]> {
    const r = await this.call(
      'target-group',
      requestId,
      this.state.describeTargetHealth({ targetGroupArn, targets: [] }),
    );
    return r.targets;
  }

  async registerTargets(
    targetGroupArn: string,
    targets: { id: string; port: number }[],
    requestId?: string,
  ): Promise<stateV1.LbTarget[]> {
    const r = await this.call(
      'target-group',
      requestId,
      this.state.registerTargets({ targetGroupArn, targets: targets.map(targetRef) }),
    );
    return r.targets;
  }

  async deregisterTargets(
    targetGroupArn: string,
    targets: { id: string; port: number }[],
    requestId?: string,
  ): Promise<stateV1.LbTarget[]> {
    const r = await this.call(
      'target-group',
      requestId,
      this.state.deregisterTargets({ targetGroupArn, targets: targets.map(targetRef) }),
    );
    return r.targets;
  }

  private async arnOf(kind: LbResourceKind, ref: string, requestId?: string): Promise<string> {
    this.checkRef(kind, ref);
    return isArn(ref) ? ref : (await this.find(kind, ref, requestId)).arn;
  }

  private checkRef(kind: LbResourceKind, ref: string): void {
    const names = LB_KINDS[kind];
    if (!isArn(ref) && !names.named) {
      throw new V1Error(
        400,
        'InvalidParameterException',
        `${names.label} ${ref} is not an ARN: a ${names.label.toLowerCase()} is named by its ARN, URL-encoded in the path.`,
      );
    }
  }

  private async call<T>(
    kind: LbResourceKind,
    requestId: string | undefined,
    obs: Observable<T>,
  ): Promise<T> {
    try {
      return await firstValueFrom(obs.pipe(timeout({ first: STATE_TIMEOUT_MS })));
    } catch (err) {
      const e = err instanceof TimeoutError ? { code: GrpcCode.DEADLINE_EXCEEDED } : err;
      throw fromStateError(e, { duplicate: LB_KINDS[kind].duplicate }, requestId, this.logger);
    }
  }
}

function targetRef(t: { id: string; port: number }): stateV1.TargetRef {
  return { id: t.id, port: t.port, host: '', taskArn: '', serviceArn: '' };
}
