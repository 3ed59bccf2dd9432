import { Controller, Inject } from '@nestjs/common';
import { agentV1, answerStartTasks } from '@wharf/proto';
import type { Logger } from 'pino';
import { Observable, Subject } from 'rxjs';
import { TaskEngine } from './engine/task-engine';
import { ContainerLogs } from './logs/container-logs';

/** The agent's logger, for the controller. */
export const AGENT_LOGGER = Symbol('AGENT_LOGGER');

/** gRPC commands from the scheduler. Each answers at once; outcomes travel as NATS reports. */
@Controller()
@agentV1.AgentServiceControllerMethods()
export class AgentController implements agentV1.AgentServiceController {
  /** Emits once the agent is shutting down: open StartTasks streams end. */
  private readonly closing = new Subject<void>();

  constructor(
    @Inject(TaskEngine) private readonly engine: TaskEngine,
    @Inject(ContainerLogs) private readonly logs: ContainerLogs,
    @Inject(AGENT_LOGGER) private readonly logger: Logger,
  ) {}

  startTask(request: agentV1.StartTaskRequest): agentV1.StartTaskResponse {
    const { accepted } = this.engine.startTask(request.task, request.taskDefinition);
    return { accepted };
  }

  /** StartTask for each request on the scheduler's stream, each answered as it is handled. */
  startTasks(requests: Observable<agentV1.StartTaskRequest>): Observable<agentV1.StartTaskResult> {
    return answerStartTasks(requests, (r) => this.startTask(r), {
      logger: this.logger,
      service: 'agent',
      closing: this.closing,
    });
  }

  /**
   * Ends the open StartTasks streams; call before closing the server, which waits for its
   * calls to end (Nest runs shutdown hooks only after that).
   */
  endStreams(): void {
    this.closing.next();
  }

  stopTask(request: agentV1.AgentStopTaskRequest): agentV1.AgentStopTaskResponse {
    const { known } = this.engine.stopTask(request.taskArn, request.reason, request.stopCode);
    return { known };
  }

  streamLogs(request: agentV1.StreamLogsRequest): Observable<agentV1.LogChunk> {
    return this.logs.stream(request);
  }
}
