import type { Logger } from 'pino';
import { map, Observable, takeUntil } from 'rxjs';
import type {
  StartTaskRequest,
  StartTaskResponse,
  StartTaskResult,
} from './generated/wharf/agent/v1/agent';
import { grpcStatusOf } from './grpc-exception.filter';

/**
 * Serves AgentService.StartTasks with the agent's StartTask handler: each request on the
 * stream is answered by a result naming its task, and a command the handler refuses (throws
 * for) by a result carrying the status StartTask would have failed with (GrpcExceptionFilter's
 * rules), so one bad task does not end the stream the others travel on.
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
  const results = requests.pipe(
    map((request): StartTaskResult => {
      const taskArn = request.task?.taskArn ?? '';
      try {
        const { accepted } = startTask(request);
        return { taskArn, accepted, errorCode: 0, errorMessage: '' };
      } catch (err) {
        const { code, message } = grpcStatusOf(err, { ...at, method: 'StartTasks' });
        return { taskArn, accepted: false, errorCode: code, errorMessage: message };
      }
    }),
  );
  return at.closing ? results.pipe(takeUntil(at.closing)) : results;
}
