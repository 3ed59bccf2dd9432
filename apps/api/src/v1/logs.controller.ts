import {
  Controller,
  Get,
  Inject,
  Logger,
  OnModuleDestroy,
  Param,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { firstValueFrom, Observable } from 'rxjs';
import { arns, clusterNameOf, decodeErrorDetails, GrpcCode } from '@wharf/domain';
import { agentV1, createAgentClient, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import type { ApiConfig } from '../config';
import { API_CONFIG } from '../tokens';

/** An error answered as `{"message": …}` with its HTTP status, before any log line is sent. */
class LogsError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface LogsQuery {
  container: string;
  follow: boolean;
  /** -1 for every line */
  tail: number;
  /** epoch milliseconds, 0 for no lower bound */
  since: number;
  timestamps: boolean;
}

type RawQuery = Record<string, unknown>;

/**
 * Checks the query string of the logs route. `since` is epoch seconds (fractions allowed)
 * or an ISO 8601 instant; `tail` a count or `all`. Each bad parameter is named.
 */
export function parseLogsQuery(raw: RawQuery): LogsQuery {
  const one = (name: string): string | undefined => {
    const v = raw[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new LogsError(400, `${name} must be given once.`);
    return v;
  };
  const bool = (name: string): boolean => {
    const v = one(name);
    if (v === undefined || v === 'false' || v === '0') return false;
    if (v === '' || v === 'true' || v === '1') return true;
    throw new LogsError(400, `${name} must be true or false, not "${v}".`);
  };
  const tailText = one('tail');
  let tail = -1;
  if (tailText !== undefined && tailText !== 'all') {
    if (!/^\d+$/.test(tailText) || Number(tailText) > 2_147_483_647) {
      throw new LogsError(
        400,
        `tail must be a number of lines (0 or more) or "all", not "${tailText}".`,
      );
    }
    tail = Number(tailText);
  }
  const sinceText = one('since');
  let since = 0;
  if (sinceText !== undefined && sinceText !== '') {
    since = /^\d+(\.\d+)?$/.test(sinceText)
      ? Math.floor(Number(sinceText) * 1000)
      : /^\d{4}-\d{2}-\d{2}/.test(sinceText)
        ? Date.parse(sinceText)
        : Number.NaN;
    if (!Number.isFinite(since)) {
      throw new LogsError(
        400,
        `since must be epoch seconds or an ISO 8601 time such as 2024-01-02T15:04:05Z, not "${sinceText}".`,
      );
    }
  }
  return {
    container: one('container') ?? '',
    follow: bool('follow'),
    tail,
    since,
    timestamps: bool('timestamps'),
  };
}

// A follower of a quiet container should still see the response start; errors the agent finds
// (an unknown container, a refused connection) arrive well within this. An agent host that
// drops packets is only noticed at gRPC's connect timeout: by then the status is sent and the
// body is cut short instead.
const COMMIT_HEADERS_AFTER_MS = 1_000;

/**
 * `GET /v1/clusters/{cluster}/tasks/{task}/logs`: a task container's logs as text/plain,
 * read from the agent of the task's container instance. With `follow=true` the response
 * stays open until the container stops or the client goes away (which cancels the agent
 * call). Errors are `{"message": …}` with 400, 404, 502 or 503.
 */
@Controller('v1/clusters/:cluster/tasks/:task/logs')
export class LogsController implements OnModuleDestroy {
  private readonly logger = new Logger(LogsController.name);
  private readonly state: GrpcClient<stateV1.StateServiceClient>;
  /** One channel per agent address; gRPC reconnects it when the agent comes back. */
  private readonly agents = new Map<string, GrpcClient<agentV1.AgentServiceClient>>();

  constructor(@Inject(API_CONFIG) private readonly config: ApiConfig) {
    this.state = createStateClient(config.STATE_URL);
  }

  onModuleDestroy(): void {
    this.state.close();
    for (const agent of this.agents.values()) agent.close();
    this.agents.clear();
  }

  @Get()
  async logs(
    @Param('cluster') cluster: string,
    @Param('task') task: string,
    @Query() rawQuery: RawQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    res.locals.operation = 'GetTaskLogs';
    try {
      const query = parseLogsQuery(rawQuery);
      const target = await this.locate(cluster, task, query.container);
      // The client may have gone while the task was being located.
      if (res.destroyed || req.socket.destroyed) return;
      this.pipe(target, query, res);
    } catch (err) {
      this.sendError(res, err);
    }
  }

  private async locate(
    cluster: string,
    task: string,
    container: string,
  ): Promise<{ taskArn: string; instanceArn: string; agentAddress: string }> {
    const clusterName = clusterNameOf(cluster);
    const described = await this.callState(
      this.state.client.describeTasks({ cluster: clusterName, tasks: [task] }),
    );
    const clusterArn = arns.cluster(
      { region: this.config.WHARF_REGION, accountId: this.config.WHARF_ACCOUNT_ID },
      clusterName,
    );
    const found = described.tasks.find((t) => t.clusterArn === clusterArn);
    if (!found) throw new LogsError(404, `Task ${task} not found in cluster ${clusterName}.`);
    const names = found.containers.map((c) => c.name);
    if (container && names.length > 0 && !names.includes(container)) {
      throw new LogsError(
        404,
        `Task ${task} has no container named ${container}; its containers: ${names.join(', ')}.`,
      );
    }
    if (!found.containerInstanceArn) {
      throw new LogsError(404, `Task ${task} has not been placed on a container instance.`);
    }
    const instances = await this.callState(
      this.state.client.describeContainerInstances({
        cluster: clusterName,
        containerInstances: [found.containerInstanceArn],
      }),
    );
    const instance = instances.containerInstances[0];
    if (!instance?.agentAddress) {
      throw new LogsError(
        503,
        `Container instance ${found.containerInstanceArn} of task ${task} has no agent address.`,
      );
    }
    return {
      taskArn: found.taskArn,
      instanceArn: found.containerInstanceArn,
      agentAddress: instance.agentAddress,
    };
  }

  private pipe(
    target: { taskArn: string; instanceArn: string; agentAddress: string },
    query: LogsQuery,
    res: Response,
  ): void {
    const agent = this.agentAt(target.agentAddress);
    const commit = () => {
      if (res.headersSent) return;
      res.status(200);
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('x-content-type-options', 'nosniff');
      res.flushHeaders();
    };
    // Without follow the agent answers at once: wait for it, so every error gets its status.
    const timer = query.follow ? setTimeout(commit, COMMIT_HEADERS_AFTER_MS) : undefined;
    const subscription = agent.client
      .streamLogs({
        taskArn: target.taskArn,
        containerName: query.container,
        tail: query.tail,
        since: query.since,
        follow: query.follow,
        timestamps: query.timestamps,
      })
      .subscribe({
        next: (chunk) => {
          commit();
          res.write(chunk.data);
        },
        complete: () => {
          clearTimeout(timer);
          commit();
          res.end();
        },
        error: (err: unknown) => {
          clearTimeout(timer);
          if (res.headersSent) {
            // Too late for a status: cut the body short so the client sees it did not end well.
            this.logger.warn(
              `log stream of task ${target.taskArn} from ${target.instanceArn} failed: ${grpcDetails(err)}`,
            );
            res.destroy();
            return;
          }
          this.sendError(res, this.agentError(err, target.instanceArn, target.agentAddress));
        },
      });
    const finish = () => {
      clearTimeout(timer);
      subscription.unsubscribe();
    };
    // The client went away (or the response ended): cancel the agent call.
    res.once('close', finish);
  }

  private agentAt(address: string): GrpcClient<agentV1.AgentServiceClient> {
    let agent = this.agents.get(address);
    if (!agent) {
      agent = createAgentClient(address);
      this.agents.set(address, agent);
    }
    return agent;
  }

  private async callState<T>(obs: Observable<T>): Promise<T> {
    try {
      return await firstValueFrom(obs);
    } catch (err) {
      const code = grpcCode(err);
      const message = grpcDetails(err);
      if (code === GrpcCode.NOT_FOUND) throw new LogsError(404, message);
      if (code === GrpcCode.INVALID_ARGUMENT) throw new LogsError(400, message);
      if (code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED) {
        throw new LogsError(503, `The state service is unavailable: ${message}`);
      }
      throw new LogsError(502, `The state service failed: ${message}`);
    }
  }

  private agentError(err: unknown, instanceArn: string, address: string): LogsError {
    const code = grpcCode(err);
    const message = grpcDetails(err);
    switch (code) {
      case GrpcCode.NOT_FOUND:
        return new LogsError(404, message);
      case GrpcCode.INVALID_ARGUMENT:
      case GrpcCode.FAILED_PRECONDITION:
        return new LogsError(400, message);
      case GrpcCode.UNAVAILABLE:
      case GrpcCode.DEADLINE_EXCEEDED:
        return new LogsError(
          503,
          `The agent of container instance ${instanceArn} at ${address} cannot be reached: ${message}`,
        );
      default:
        return new LogsError(
          502,
          `The agent of container instance ${instanceArn} at ${address} failed: ${message}`,
        );
    }
  }

  private sendError(res: Response, err: unknown): void {
    const error =
      err instanceof LogsError ? err : new LogsError(500, 'Internal error reading the logs.');
    if (!(err instanceof LogsError)) this.logger.error(err);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.locals.errorType = String(error.status);
    res
      .status(error.status)
      .setHeader('content-type', 'application/json')
      .send(JSON.stringify({ message: error.message }));
  }
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The peer's message without the ECS error name it carries between services. */
function grpcDetails(err: unknown): string {
  const e = err as { details?: unknown; message?: unknown } | null;
  const details =
    typeof e?.details === 'string' && e.details
      ? e.details
      : typeof e?.message === 'string'
        ? e.message
        : String(err);
  return decodeErrorDetails(details)?.message ?? details;
}
