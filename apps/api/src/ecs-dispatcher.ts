import { EcsApiError } from './protocol/ecs-errors';
import { findViolation } from './protocol/ecs-model';
import { ECS_MODEL } from './protocol/ecs-model.generated';
import { OPERATIONS, OperationContext } from './operations';
import { unsupportedOperation } from './operations/unsupported.operations';

/**
 * Runs one ECS operation: it must be one Wharf serves, and its input must match the
 * operation's input shape in the ECS model before any handler sees it.
 */
export class EcsDispatcher {
  constructor(private readonly ctx: OperationContext) {}

  async dispatch(
    operation: string,
    input: Record<string, unknown>,
    principal?: string,
  ): Promise<unknown> {
    // Own properties only: `constructor` or `toString` must not find Object.prototype's.
    const handler = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;
    const modelOp = Object.hasOwn(ECS_MODEL.operations, operation)
      ? ECS_MODEL.operations[operation]
      : undefined;
    if (!handler || !modelOp) {
      // In the ECS model but not served: say why, rather than "unknown".
      const unsupported = handler ? undefined : unsupportedOperation(operation);
      if (unsupported) throw unsupported;
      throw new EcsApiError(
        'UnknownOperationException',
        `Operation ${operation} is not supported by this endpoint.`,
      );
    }
    checkInput(modelOp.input, input);
    return handler(input, principal === undefined ? this.ctx : { ...this.ctx, principal });
  }
}

export function checkInput(shape: string, input: Record<string, unknown>): void {
  const violation = findViolation(ECS_MODEL, shape, input, '');
  if (!violation) return;
  if (violation.kind === 'type') throw new EcsApiError('SerializationException', violation.message);
  throw new EcsApiError('InvalidParameterException', violation.message);
}
