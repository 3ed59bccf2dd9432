/**
 * For the scheduler's specs: container instance records, and an agent that is a real gRPC
 * server in the test process and records the commands it gets (Docker work is the e2e tests').
 * Not part of the service.
 */
import { Controller } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, RpcException } from '@nestjs/microservices';
import { GrpcCode } from '@wharf/domain';
import { createLogger } from '@wharf/observability';
import { agentV1, answerStartTasks, common, grpcOptions } from '@wharf/proto';
import { EMPTY, Observable, Subject, throwError } from 'rxjs';

/**
 * The record state sends of instance `n` of cluster `c` (ARN `…/c/i-<n>`): ACTIVE, agent
 * connected, `cpu` units of its 2048 and 1024 MiB left, no tasks, at `version`.
 */
export function instanceRecord(n: number, version: number, cpu: number): common.ContainerInstance {
  const resources = { cpu, memory: 1024, ports: [], portsUdp: [] };
  return {
    containerInstanceArn: `arn:aws:ecs:us-east-1:000000000000:container-instance/c/i-${n}`,
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/c',
    ec2InstanceId: `i-${n}`,
    status: 'ACTIVE',
    agentConnected: true,
    registered: { ...resources, cpu: 2048 },
    remaining: resources,
    runningTasksCount: 0,
    pendingTasksCount: 0,
    attributes: [],
    agentVersion: '1',
    dockerVersion: '1',
    agentAddress: '127.0.0.1:1',
    registeredAt: n,
    version,
    lastHeartbeatAt: 1,
    hostname: `h${n}`,
    hostAddress: '127.0.0.1',
    taskGroups: [],
    tagsJson: '[]',
  };
}

/** What agents were told, in arrival order. */
export interface AgentCommands {
  start: agentV1.StartTaskRequest[];
  stop: agentV1.AgentStopTaskRequest[];
  /** How many StartTasks streams were opened (each carries any number of starts). */
  streams?: number;
}

/**
 * Serves AgentService on `address` (host:port), accepting every StartTask (a call, or a
 * message on StartTasks) and StopTask and recording it into `into` (several agents may share
 * one record). `startTasks: 'unimplemented'` answers StartTasks as an agent from before it
 * does. Close it to stop serving.
 */
export async function startRecordingAgent(
  address: string,
  into: AgentCommands,
  { startTasks = 'served' }: { startTasks?: 'served' | 'unimplemented' } = {},
): Promise<{ close(): Promise<void> }> {
  const closing = new Subject<void>();
  @Controller()
  @agentV1.AgentServiceControllerMethods()
  class RecordingAgent implements agentV1.AgentServiceController {
    startTask(req: agentV1.StartTaskRequest): agentV1.StartTaskResponse {
      into.start.push(req);
      return { accepted: true };
    }
    startTasks(
      requests: Observable<agentV1.StartTaskRequest>,
    ): Observable<agentV1.StartTaskResult> {
      if (startTasks === 'unimplemented') {
        return throwError(
          () =>
            new RpcException({
              code: GrpcCode.UNIMPLEMENTED,
              message:
                'The server does not implement the method /wharf.agent.v1.AgentService/StartTasks',
            }),
        );
      }
      into.streams = (into.streams ?? 0) + 1;
      return answerStartTasks(requests, (r) => this.startTask(r), {
        logger: createLogger('recording-agent', 'silent'),
        service: 'agent',
        closing,
      });
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
  return {
    // As the agent does: its StartTasks streams end before the server waits for its calls.
    close: async () => {
      closing.next();
      await app.close();
    },
  };
}
