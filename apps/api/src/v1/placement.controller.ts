import { Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { firstValueFrom, timeout } from 'rxjs';
import { clusterNameOf, decodeErrorDetails, GrpcCode } from '@wharf/domain';
import { schedulerV1 } from '@wharf/proto';
import type { ApiConfig } from '../config';
import { SCHEDULER_CLIENT } from '../scheduler-pool';
import { readBody } from '../request-body';
import { API_CONFIG } from '../tokens';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../protocol/target';

const SCHEDULER_TIMEOUT_MS = 10_000;
/** As RunTask: at most 10 tasks. */
const MAX_COUNT = 10;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The body of `POST /v1/clusters/{cluster}/placement/explain`, as RunTask names the fields. */
export interface ExplainBody {
  taskDefinition: string;
  count?: number;
  group?: string;
  placementConstraints?: unknown[];
  placementStrategy?: unknown[];
  overrides?: Record<string, unknown>;
}

/**
 * Checks the explain body's shape, naming the field that is wrong; what the fields mean
 * (constraint types, expressions, strategy fields, overrides) the scheduler checks as RunTask
 * does.
 */
export function parseExplainBody(raw: Buffer): ExplainBody {
  let body: unknown;
  try {
    body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
  } catch {
    throw new HttpError(400, 'The body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'The body must be a JSON object with at least taskDefinition.');
  }
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
    throw new HttpError(400, `The body nests more than ${MAX_JSON_DEPTH} levels deep.`);
  }
  const b = body as Record<string, unknown>;
  if (typeof b.taskDefinition !== 'string' || !b.taskDefinition) {
    throw new HttpError(400, 'taskDefinition is required: a family, family:revision or ARN.');
  }
  if (
    b.count !== undefined &&
    (typeof b.count !== 'number' ||
      !Number.isInteger(b.count) ||
      b.count < 1 ||
      b.count > MAX_COUNT)
  ) {
    throw new HttpError(400, `count must be a whole number from 1 to ${MAX_COUNT}.`);
  }
  if (b.group !== undefined && typeof b.group !== 'string') {
    throw new HttpError(400, 'group must be a string.');
  }
  for (const name of ['placementConstraints', 'placementStrategy'] as const) {
    if (b[name] !== undefined && !Array.isArray(b[name])) {
      throw new HttpError(400, `${name} must be a list.`);
    }
  }
  if (
    b.overrides !== undefined &&
    (typeof b.overrides !== 'object' || b.overrides === null || Array.isArray(b.overrides))
  ) {
    throw new HttpError(400, 'overrides must be an object (an ECS TaskOverride).');
  }
  return b as unknown as ExplainBody;
}

/**
 * `POST /v1/clusters/{cluster}/placement/explain` with `{taskDefinition, count?, group?,
 * placementConstraints?, placementStrategy?, overrides?}`: why each container instance would
 * or would not take the task — infeasible with every check it fails, or feasible with its
 * rank in each strategy and overall — where the next task goes, and where RunTask would put
 * `count` tasks on the same snapshot. Commits nothing. Errors are `{"message": …}`: 400 for
 * a bad body or option (the message names it; a bad expression says at which position), 404
 * for an unknown cluster or task definition, 502/503 when the scheduler fails or is away.
 */
@Controller('v1/clusters/:cluster/placement')
export class PlacementController {
  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    /** The api's scheduler pool (every replica in SCHEDULER_URL, in turn). */
    @Inject(SCHEDULER_CLIENT) private readonly scheduler: schedulerV1.SchedulerServiceClient,
  ) {}

  @Post('explain')
  async explain(
    @Param('cluster') cluster: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    res.locals.operation = 'ExplainPlacement';
    try {
      const limit = this.config.API_MAX_BODY_BYTES;
      const body = parseExplainBody(
        await readBody(req, limit, () => new HttpError(413, `The body exceeds ${limit} bytes.`)),
      );
      const json = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
      const r = await this.call({
        cluster: clusterNameOf(cluster),
        taskDefinition: body.taskDefinition,
        count: body.count ?? 1,
        group: body.group ?? '',
        placementConstraintsJson: json(body.placementConstraints),
        placementStrategyJson: json(body.placementStrategy),
        overridesJson: json(body.overrides),
      });
      res.status(200).type('application/json').send(r.explanationJson);
    } catch (err) {
      const error =
        err instanceof HttpError ? err : new HttpError(500, 'Internal error explaining placement.');
      res.locals.errorType = String(error.status);
      res.status(error.status).json({ message: error.message });
    }
  }

  private async call(req: schedulerV1.ExplainRequest): Promise<schedulerV1.ExplainResponse> {
    try {
      return await firstValueFrom(
        this.scheduler.explain(req).pipe(timeout({ first: SCHEDULER_TIMEOUT_MS })),
      );
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      const details = (err as { details?: unknown } | null)?.details;
      const message =
        typeof details === 'string' && details
          ? (decodeErrorDetails(details)?.message ?? details)
          : 'no answer';
      if (code === GrpcCode.NOT_FOUND) throw new HttpError(404, message);
      if (code === GrpcCode.INVALID_ARGUMENT || code === GrpcCode.FAILED_PRECONDITION) {
        throw new HttpError(400, message);
      }
      if (code === GrpcCode.UNAVAILABLE || code === undefined) {
        throw new HttpError(503, `The scheduler is unavailable: ${message}`);
      }
      throw new HttpError(502, `The scheduler failed: ${message}`);
    }
  }
}
