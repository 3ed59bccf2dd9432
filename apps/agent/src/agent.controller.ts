import { Controller, Inject } from '@nestjs/common';
import { agentV1 } from '@wharf/proto';
import { Observable } from 'rxjs';
import { TaskEngine } from './engine/task-engine';
import { ContainerLogs } from './logs/container-logs';

/** gRPC commands from the scheduler. Both answer at once; outcomes travel as NATS reports. */
@Controller()
@agentV1.AgentServiceControllerMethods()
export class AgentController implements agentV1.AgentServiceController {
  constructor(
    @Inject(TaskEngine) private readonly engine: TaskEngine,
    @Inject(ContainerLogs) private readonly logs: ContainerLogs,
  ) {}

  startTask(request: agentV1.StartTaskRequest): agentV1.StartTaskResponse {
    const { accepted } = this.engine.startTask(request.task, request.taskDefinition);
    return { accepted };
  }

  stopTask(request: agentV1.AgentStopTaskRequest): agentV1.AgentStopTaskResponse {
    const { known } = this.engine.stopTask(request.taskArn, request.reason, request.stopCode);
    return { known };
  }

  streamLogs(request: agentV1.StreamLogsRequest): Observable<agentV1.LogChunk> {
    return this.logs.stream(request);
  }
}
