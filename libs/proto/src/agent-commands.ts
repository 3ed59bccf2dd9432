import { GrpcCode } from '@wharf/domain';
import type { Logger } from 'pino';
import { map, Observable, takeUntil } from 'rxjs';
import type {
  StartTaskRequest,
  StartTaskResponse,
  StartTaskResult,
} from './generated/wharf/agent/v1/agent';
import type { TaskDefinition } from './generated/wharf/common/v1/common';
import { grpcStatusOf } from './grpc-exception.filter';

/**
 * The most definitions one stream keeps; past it they are forgotten, and a start that needs
 * one again is answered FAILED_PRECONDITION, which makes the scheduler send it with the next.
 */
export const MAX_STREAMED_DEFINITIONS = 1_000;

/** A start on a StartTasks stream that neither carried its definition nor followed one that did. */
export class DefinitionNotSentError extends Error {
  readonly code = GrpcCode.FAILED_PRECONDITION;
  constructor(readonly details: string) {
    super(details);
  }
}

/**
 * The task definitions one StartTasks stream brought, by ARN: a request may leave its
 * definition out once an earlier one on the stream carried it (StartTaskRequest.task_definition).
 */
export class StreamedDefinitions {
  private readonly byArn = new Map<string, TaskDefinition>();

  /**
   * The request with its definition: the one it carries (kept for the requests after it), or
   * the one an earlier request brought. Throws DefinitionNotSentError when there is neither.
   */
  complete(request: StartTaskRequest): StartTaskRequest {
    const carried = request.taskDefinition;
    if (carried?.taskDefinitionArn) {
      if (this.byArn.size >= MAX_STREAMED_DEFINITIONS) this.byArn.clear();
      this.byArn.set(carried.taskDefinitionArn, carried);
      return request;
    }
    const arn = request.task?.taskDefinitionArn ?? '';
    const known = this.byArn.get(arn);
    if (!known) {
      throw new DefinitionNotSentError(
        `task definition ${arn || '(none named)'} was not sent on this stream: send it with the request`,
      );
    }
    return { ...request, taskDefinition: known };
  }
}

/**
 * Serves AgentService.StartTasks with the agent's StartTask handler: each request on the
 * stream is answered by a result naming its task, and a command the handler refuses (throws
 * for) by a result carrying the status StartTask would have failed with (GrpcExceptionFilter's
 * rules), so one bad task does not end the stream the others travel on. A request without its
 * definition gets the one an earlier request on the stream brought (StreamedDefinitions).
 *
 * `at.closing` ends the stream when it emits (the agent is shutting down): the scheduler sees
 * the stream end and sends what it has not had answered again, on a new connection. A server
 * shutting down gracefully waits for its calls to end, and this one would not on its own.
 */
export function answerStartTasks(
  requests: Observable<StartTaskRequest>,
  startTask: (request: StartTaskRequest) => StartTaskResponse,
  at: { logger: Logger; service: string; closing?: Observable<unknown> },
): Observable<StartTaskResult> {
  const definitions = new StreamedDefinitions();
  const results = requests.pipe(
    map((request): StartTaskResult => {
      const taskArn = request.task?.taskArn ?? '';
      try {
        const { accepted } = startTask(definitions.complete(request));
        return { taskArn, accepted, errorCode: 0, errorMessage: '' };
      } catch (err) {
        const { code, message } = grpcStatusOf(err, { ...at, method: 'StartTasks' });
        return { taskArn, accepted: false, errorCode: code, errorMessage: message };
      }
    }),
  );
  return at.closing ? results.pipe(takeUntil(at.closing)) : results;
}
