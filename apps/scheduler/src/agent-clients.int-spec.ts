/**
 * AgentClients against real gRPC agents (NestJS microservices on loopback): starts travel on
 * one StartTasks stream per agent, a refusal is that task's error alone, an agent from before
 * StartTasks gets StartTask calls, a restarted agent gets the starts it missed, and a start
 * never answered fails at its deadline.
 */
import { Controller } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions } from '@nestjs/microservices';
import { GrpcCode, InvalidParameterError } from '@wharf/domain';
import { createLogger } from '@wharf/observability';
import { agentV1, answerStartTasks, common, grpcOptions } from '@wharf/proto';
import { EMPTY, filter, map, Observable, tap } from 'rxjs';
import { AgentClients } from './agent-clients';
import { freePort } from './free-port';
import { AgentCommands, startRecordingAgent } from './scheduler-test-fixtures';

jest.setTimeout(60_000);

const DEFINITION_ARN = 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1';
const definition = {
  taskDefinitionArn: DEFINITION_ARN,
  family: 'web',
  revision: 1,
  definitionJson: '{"family":"web","containerDefinitions":[]}',
} as common.TaskDefinition;
const task = (id: string): common.Task =>
  ({
    taskArn: `arn:aws:ecs:us-east-1:000000000000:task/c/${id}`,
    taskDefinitionArn: DEFINITION_ARN,
  }) as common.Task;
const request = (id: string): agentV1.StartTaskRequest => ({
  task: task(id),
  taskDefinition: definition,
});

const servers: { close(): Promise<void> }[] = [];
let clients: AgentClients;

beforeEach(() => {
  clients = new AgentClients();
});

afterEach(async () => {
  clients.closeAll();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function recordingAgent(
  into: AgentCommands,
  options?: Parameters<typeof startRecordingAgent>[2],
  address?: string,
): Promise<string> {
  address ??= `127.0.0.1:${await freePort()}`;
  servers.push(await startRecordingAgent(address, into, options));
  return address;
}

/**
 * An agent that refuses tasks whose id starts with `bad` (as the engine refuses a task placed
 * on another instance) and never answers those starting with `mute`. `wire` gets each request
 * as it came (before a left-out definition is filled in). `forgetful`: it keeps no definition,
 * refusing every request without one.
 */
async function pickyAgent(
  wire: agentV1.StartTaskRequest[] = [],
  { forgetful = false } = {},
): Promise<string> {
  @Controller()
  @agentV1.AgentServiceControllerMethods()
  class PickyAgent implements agentV1.AgentServiceController {
    startTask(req: agentV1.StartTaskRequest): agentV1.StartTaskResponse {
      if (req.task?.taskArn.includes('/bad')) {
        throw new InvalidParameterError(`task ${req.task.taskArn} is not for this instance`);
      }
      return { accepted: true };
    }
    startTasks(
      requests: Observable<agentV1.StartTaskRequest>,
    ): Observable<agentV1.StartTaskResult> {
      const answered = requests.pipe(
        tap((r) => wire.push(r)),
        filter((r) => !r.task?.taskArn.includes('/mute')),
      );
      if (forgetful) {
        return answered.pipe(
          map((r) => ({
            taskArn: r.task?.taskArn ?? '',
            accepted: Boolean(r.taskDefinition),
            errorCode: r.taskDefinition ? 0 : GrpcCode.FAILED_PRECONDITION,
            errorMessage: r.taskDefinition ? '' : 'no definition kept',
          })),
        );
      }
      return answerStartTasks(answered, (r) => this.startTask(r), {
        logger: createLogger('picky-agent', 'silent'),
        service: 'agent',
      });
    }
    stopTask(): agentV1.AgentStopTaskResponse {
      return { known: false };
    }
    streamLogs(): Observable<agentV1.LogChunk> {
      return EMPTY;
    }
  }
  const address = `127.0.0.1:${await freePort()}`;
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    { module: class PickyAgentModule {}, controllers: [PickyAgent] } as never,
    { ...grpcOptions('agent', address), logger: false },
  );
  await app.listen();
  servers.push(app);
  return address;
}

describe('AgentClients.startTask', () => {
  it('sends every start to an agent on one StartTasks stream, answering each', async () => {
    const into: AgentCommands = { start: [], stop: [] };
    const address = await recordingAgent(into);
    const ids = Array.from({ length: 50 }, (_, i) => `t${i}`);
    const answers = await Promise.all(
      ids.map((id) => clients.startTask(address, request(id), 5_000)),
    );
    expect(answers.every((a) => a.accepted)).toBe(true);
    // Later starts go on the same stream.
    await clients.startTask(address, request('later'), 5_000);
    expect(into.streams).toBe(1);
    expect(into.start.map((r) => r.task?.taskArn)).toEqual(
      [...ids, 'later'].map((id) => task(id).taskArn),
    );
  });

  it('fails a refused start with the status StartTask would have, and only that one', async () => {
    const address = await pickyAgent();
    const [good, bad, alsoGood] = await Promise.allSettled([
      clients.startTask(address, request('good1'), 5_000),
      clients.startTask(address, request('bad1'), 5_000),
      clients.startTask(address, request('good2'), 5_000),
    ]);
    expect(good).toEqual({ status: 'fulfilled', value: { accepted: true } });
    expect(alsoGood).toEqual({ status: 'fulfilled', value: { accepted: true } });
    expect(bad.status).toBe('rejected');
    const err = (bad as PromiseRejectedResult).reason as { code: number; details: string };
    expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(err.details).toContain('is not for this instance');
  });

  it('fails a start the agent never answers at its deadline, as DEADLINE_EXCEEDED', async () => {
    const address = await pickyAgent();
    const started = Date.now();
    await expect(clients.startTask(address, request('mute1'), 300)).rejects.toMatchObject({
      code: GrpcCode.DEADLINE_EXCEEDED,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // The stream is still good for the next start.
    await expect(clients.startTask(address, request('good3'), 5_000)).resolves.toEqual({
      accepted: true,
    });
  });

  it('sends a task definition once per stream, and again in full to an agent without it', async () => {
    const wire: agentV1.StartTaskRequest[] = [];
    const address = await pickyAgent(wire);
    await clients.startTask(address, request('d1'), 5_000);
    await Promise.all([
      clients.startTask(address, request('d2'), 5_000),
      clients.startTask(address, request('d3'), 5_000),
    ]);
    expect(wire.map((r) => r.taskDefinition?.taskDefinitionArn ?? null)).toEqual([
      DEFINITION_ARN,
      null,
      null,
    ]);

    const forgot: agentV1.StartTaskRequest[] = [];
    const forgetful = await pickyAgent(forgot, { forgetful: true });
    await clients.startTask(forgetful, request('f1'), 5_000);
    await expect(clients.startTask(forgetful, request('f2'), 5_000)).resolves.toEqual({
      accepted: true,
    });
    // f2 went without its definition, was refused FAILED_PRECONDITION and went again in full.
    expect(forgot.map((r) => [r.task?.taskArn, Boolean(r.taskDefinition)])).toEqual([
      [task('f1').taskArn, true],
      [task('f2').taskArn, false],
      [task('f2').taskArn, true],
    ]);
  });

  it('sends StartTask calls to an agent that does not know StartTasks', async () => {
    const into: AgentCommands = { start: [], stop: [] };
    const address = await recordingAgent(into, { startTasks: 'unimplemented' });
    await expect(clients.startTask(address, request('old1'), 5_000)).resolves.toEqual({
      accepted: true,
    });
    await expect(clients.startTask(address, request('old2'), 5_000)).resolves.toEqual({
      accepted: true,
    });
    expect(into.streams).toBeUndefined();
    expect(into.start.map((r) => r.task?.taskArn)).toEqual([
      task('old1').taskArn,
      task('old2').taskArn,
    ]);
  });

  it('reaches an agent restarted on the same address with the starts sent meanwhile', async () => {
    const before: AgentCommands = { start: [], stop: [] };
    const address = await recordingAgent(before);
    await clients.startTask(address, request('r1'), 5_000);
    await servers.pop()!.close();

    // Sent while nothing listens: retried until the agent is back.
    const pending = clients.startTask(address, request('r2'), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after: AgentCommands = { start: [], stop: [] };
    await recordingAgent(after, undefined, address);
    await expect(pending).resolves.toEqual({ accepted: true });
    expect(after.start.map((r) => r.task?.taskArn)).toEqual([task('r2').taskArn]);
    expect(after.streams).toBe(1);
  });
});
