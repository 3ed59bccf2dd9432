import { Controller, Get, Inject, OnModuleDestroy, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { firstValueFrom, timeout } from 'rxjs';
import { clusterNameOf, decodeErrorDetails, GrpcCode } from '@wharf/domain';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import type { ApiConfig } from '../config';
import { API_CONFIG } from '../tokens';

const STATE_TIMEOUT_MS = 10_000;
const MAX_HISTORY = 1000;

/** A sample as the /v1 JSON shows it: `sampledAt` is an ISO 8601 instant. */
export interface UtilisationSampleJson extends Omit<stateV1.UtilisationSample, 'sampledAt'> {
  sampledAt: string;
}

export interface UtilisationJson {
  cluster: string;
  taskArn?: string;
  containerInstanceArn: string;
  latest: UtilisationSampleJson | null;
  history: UtilisationSampleJson[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `GET /v1/clusters/{cluster}/tasks/{task}/utilisation` and
 * `GET /v1/clusters/{cluster}/container-instances/{id}/utilisation`: the latest utilisation
 * sample the agent reported and the recent history (newest first; `?history=N` limits it).
 * CPU is in percent of one CPU, memory and I/O in bytes. Errors are `{"message": …}` with
 * 400, 404, 502 or 503.
 */
@Controller('v1/clusters/:cluster')
export class UtilisationController implements OnModuleDestroy {
  private readonly state: GrpcClient<stateV1.StateServiceClient>;

  constructor(@Inject(API_CONFIG) config: ApiConfig) {
    this.state = createStateClient(config.STATE_URL);
  }

  onModuleDestroy(): void {
    this.state.close();
  }

  @Get('tasks/:task/utilisation')
  task(
    @Param('cluster') cluster: string,
    @Param('task') task: string,
    @Query('history') history: unknown,
    @Res() res: Response,
  ): Promise<void> {
    res.locals.operation = 'GetTaskUtilisation';
    return this.answer(res, cluster, { task, containerInstance: '' }, history);
  }

  @Get('container-instances/:id/utilisation')
  instance(
    @Param('cluster') cluster: string,
    @Param('id') id: string,
    @Query('history') history: unknown,
    @Res() res: Response,
  ): Promise<void> {
    res.locals.operation = 'GetContainerInstanceUtilisation';
    return this.answer(res, cluster, { task: '', containerInstance: id }, history);
  }

  private async answer(
    res: Response,
    cluster: string,
    target: { task: string; containerInstance: string },
    historyParam: unknown,
  ): Promise<void> {
    try {
      const historyLimit = parseHistory(historyParam);
      const clusterName = clusterNameOf(cluster);
      const r = await this.getUtilisation({ cluster: clusterName, ...target, historyLimit });
      const body: UtilisationJson = {
        cluster: clusterName,
        ...(target.task ? { taskArn: r.resourceArn } : {}),
        containerInstanceArn: r.containerInstanceArn,
        latest: r.latest ? sampleJson(r.latest) : null,
        history: r.history.map(sampleJson),
      };
      res.status(200).json(body);
    } catch (err) {
      const error =
        err instanceof HttpError ? err : new HttpError(500, 'Internal error reading utilisation.');
      res.locals.errorType = String(error.status);
      res.status(error.status).json({ message: error.message });
    }
  }

  private async getUtilisation(
    req: stateV1.GetUtilisationRequest,
  ): Promise<stateV1.GetUtilisationResponse> {
    try {
      return await firstValueFrom(
        this.state.client.getUtilisation(req).pipe(timeout({ first: STATE_TIMEOUT_MS })),
      );
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      const details = (err as { details?: unknown } | null)?.details;
      const message =
        typeof details === 'string' && details
          ? (decodeErrorDetails(details)?.message ?? details)
          : 'no answer';
      if (code === GrpcCode.NOT_FOUND) throw new HttpError(404, message);
      if (code === GrpcCode.INVALID_ARGUMENT) throw new HttpError(400, message);
      if (code === GrpcCode.UNAVAILABLE || code === undefined) {
        throw new HttpError(503, `The state service is unavailable: ${message}`);
      }
      throw new HttpError(502, `The state service failed: ${message}`);
    }
  }
}

function parseHistory(raw: unknown): number {
  if (raw === undefined || raw === '') return 0;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) > MAX_HISTORY) {
    throw new HttpError(400, `history must be a number of samples from 0 to ${MAX_HISTORY}.`);
  }
  return Number(raw);
}

function sampleJson(s: stateV1.UtilisationSample): UtilisationSampleJson {
  return { ...s, sampledAt: new Date(s.sampledAt).toISOString() };
}
