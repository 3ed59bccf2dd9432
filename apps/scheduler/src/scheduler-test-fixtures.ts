/**
 * For the scheduler's integration specs: an agent that is a real gRPC server in the test
 * process and records the commands it gets (Docker work is the e2e tests'). Not part of the
 * service.
 */
import { Controller, INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions } from '@nestjs/microservices';
import { agentV1, grpcOptions } from '@wharf/proto';
import { EMPTY, Observable } from 'rxjs';

/** What agents were told, in arrival order. */
export interface AgentCommands {
  start: agentV1.StartTaskRequest[];
  stop: agentV1.AgentStopTaskRequest[];
}

/**
 * Serves AgentService on `address` (host:port), accepting every StartTask and StopTask and
 * recording it into `into` (several agents may share one record). Close it to stop serving.
 */
export async function startRecordingAgent(
  address: string,
  into: AgentCommands,
): Promise<INestMicroservice> {
  @Controller()
  @agentV1.AgentServiceControllerMethods()
  class RecordingAgent implements agentV1.AgentServiceController {
    startTask(req: agentV1.StartTaskRequest): agentV1.StartTaskResponse {
      into.start.push(req);
      return { accepted: true };
    }
    stopTask(req: agentV1.AgentStopTaskRequest): agentV1.AgentStopTaskResponse {
      into.stop.push(req);
      return { known: true };
    }
    streamLogs(): Observable<agentV1.LogChunk> {
      return EMPTY;
    }
  }
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    { module: class RecordingAgentModule {}, controllers: [RecordingAgent] } as never,
    { ...grpcOptions('agent', address), logger: false },
  );
  await app.listen();
  return app;
}
