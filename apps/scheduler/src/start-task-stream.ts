import type { ClientDuplexStream } from '@grpc/grpc-js';
import { GrpcCode } from '@wharf/domain';
import { type agentV1, MAX_STREAMED_DEFINITIONS } from '@wharf/proto';

/** An error as @grpc/grpc-js gives a failed call: the status code and its details. */
export class AgentCommandError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${code} ${codeName(code)}: ${details}`);
  }
}

type StartTasksCall = ClientDuplexStream<agentV1.StartTaskRequest, agentV1.StartTaskResult>;

interface Waiter {
  resolve: (response: agentV1.StartTaskResponse) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
  /** Sent without its definition (the stream carried it before): the request in full. */
  full?: agentV1.StartTaskRequest;
}

/**
 * One agent's StartTasks stream: each StartTaskRequest is written on one long-lived
 * bidirectional stream and settled by the StartTaskResult that names its task, instead of a
 * unary call per task (an HTTP/2 stream with headers and trailers each, several times the
 * CPU on both sides). The stream is opened on first use and again after it ends.
 *
 * A result carrying a status rejects its request with an AgentCommandError of that code, as
 * the unary call would have failed. When the stream fails or ends, every request on it is
 * rejected with its status (UNAVAILABLE when the agent went away, so AgentClients retries on
 * a fresh connection; UNIMPLEMENTED from an agent without the method). A request not answered
 * within its time is rejected with DEADLINE_EXCEEDED. Requests for the same task while one is
 * under way are settled by the same result (StartTask is idempotent by task ARN).
 *
 * A task definition goes to the agent once per stream: later starts of the same definition
 * leave it out (the agent keeps what the stream brought). Should the agent answer such a start
 * FAILED_PRECONDITION (it forgot the definition), the start is sent again in full.
 */
export class StartTaskStream {
  private current?: OpenStream;

  constructor(private readonly open: () => StartTasksCall) {}

  startTask(
    request: agentV1.StartTaskRequest,
    timeoutMs: number,
  ): Promise<agentV1.StartTaskResponse> {
    const taskArn = request.task?.taskArn;
    if (!taskArn) {
      return Promise.reject(
        new AgentCommandError(GrpcCode.INVALID_ARGUMENT, 'task.task_arn is required'),
      );
    }
    const stream = (this.current ??= this.openStream());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          stream.remove(taskArn, waiter);
          reject(
            new AgentCommandError(
              GrpcCode.DEADLINE_EXCEEDED,
              `the agent did not answer StartTask for ${taskArn} within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs),
      };
      stream.send(taskArn, request, waiter);
    });
  }

  /** Ends the stream; requests still waiting are rejected with `err` (CANCELLED by default). */
  close(err = new AgentCommandError(GrpcCode.CANCELLED, 'the agent client was closed')): void {
    const stream = this.current;
    this.current = undefined;
    stream?.end(err);
    stream?.call.cancel();
  }

  private openStream(): OpenStream {
    const stream = new OpenStream(this.open());
    const { call } = stream;
    call.on('data', (result: agentV1.StartTaskResult) => stream.settle(result));
    // Every way the stream ends (an error, the agent closing it, cancel) ends with its status;
    // an error is also emitted, before it, and must be listened to.
    call.on('error', () => undefined);
    call.on('status', (status: { code: number; details: string }) => {
      if (this.current === stream) this.current = undefined;
      stream.end(
        status.code === GrpcCode.OK
          ? // The agent closed the stream (it is shutting down): what was sent on it was not
            // answered and goes again on a new connection.
            new AgentCommandError(GrpcCode.UNAVAILABLE, 'the agent ended the StartTasks stream')
          : new AgentCommandError(status.code, status.details),
      );
    });
    return stream;
  }
}

/** One opened StartTasks call and the requests sent on it, by task ARN. */
class OpenStream {
  readonly waiting = new Map<string, Waiter[]>();
  /** ARNs of the task definitions this stream carried. */
  private readonly definitionsSent = new Set<string>();

  constructor(readonly call: StartTasksCall) {}

  send(taskArn: string, request: agentV1.StartTaskRequest, waiter: Waiter): void {
    const list = this.waiting.get(taskArn);
    if (list) list.push(waiter);
    else this.waiting.set(taskArn, [waiter]);
    const definition = request.taskDefinition?.taskDefinitionArn;
    if (definition && this.definitionsSent.has(definition)) {
      waiter.full = request;
      this.call.write({ task: request.task, taskDefinition: undefined });
      return;
    }
    if (definition) {
      if (this.definitionsSent.size >= MAX_STREAMED_DEFINITIONS) this.definitionsSent.clear();
      this.definitionsSent.add(definition);
    }
    this.call.write(request);
  }

  settle(result: agentV1.StartTaskResult): void {
    const list = this.waiting.get(result.taskArn);
    if (!list) return; // timed out meanwhile
    const full = list.find((w) => w.full)?.full;
    if (result.errorCode === GrpcCode.FAILED_PRECONDITION && full) {
      // The agent does not have the definition after all: the start goes again, in full.
      for (const w of list) w.full = undefined;
      this.call.write(full);
      return;
    }
    this.waiting.delete(result.taskArn);
    for (const w of list) {
      clearTimeout(w.timer);
      if (result.errorCode) w.reject(new AgentCommandError(result.errorCode, result.errorMessage));
      else w.resolve({ accepted: result.accepted });
    }
  }

  remove(taskArn: string, waiter: Waiter): void {
    const list = this.waiting.get(taskArn);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.waiting.delete(taskArn);
  }

  /** Rejects every request still waiting with `err`. */
  end(err: AgentCommandError): void {
    const lists = [...this.waiting.values()];
    this.waiting.clear();
    for (const list of lists) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(err);
      }
    }
  }
}

function codeName(code: number): string {
  return Object.entries(GrpcCode).find(([, c]) => c === code)?.[0] ?? 'UNKNOWN';
}
