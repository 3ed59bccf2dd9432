import type { ClientDuplexStream } from '@grpc/grpc-js';
import { GrpcCode } from '@wharf/domain';
import type { agentV1, common } from '@wharf/proto';
import { EventEmitter } from 'node:events';
import { AgentCommandError, StartTaskStream } from './start-task-stream';

/** A StartTasks call without a network: what was written, and the agent's side to drive. */
class FakeCall extends EventEmitter {
  readonly written: agentV1.StartTaskRequest[] = [];
  cancelled = false;
  write(request: agentV1.StartTaskRequest): boolean {
    this.written.push(request);
    return true;
  }
  cancel(): void {
    this.cancelled = true;
  }
  answer(taskArn: string, errorCode = 0): void {
    this.emit('data', { taskArn, accepted: errorCode === 0, errorCode, errorMessage: '' });
  }
  end(code: number, details = ''): void {
    this.emit('status', { code, details });
  }
}

const request = (id: string): agentV1.StartTaskRequest => ({
  task: { taskArn: `arn:task/${id}`, taskDefinitionArn: 'arn:td/web:1' } as common.Task,
  taskDefinition: { taskDefinitionArn: 'arn:td/web:1' } as common.TaskDefinition,
});

function setup() {
  const calls: FakeCall[] = [];
  const stream = new StartTaskStream(() => {
    const call = new FakeCall();
    calls.push(call);
    return call as unknown as ClientDuplexStream<agentV1.StartTaskRequest, agentV1.StartTaskResult>;
  });
  return { stream, calls };
}

describe('StartTaskStream', () => {
  it('settles each start by the result naming its task, in any order', async () => {
    const { stream, calls } = setup();
    const a = stream.startTask(request('a'), 5_000);
    const b = stream.startTask(request('b'), 5_000);
    expect(calls).toHaveLength(1);
    calls[0].answer('arn:task/b');
    calls[0].answer('arn:task/a', GrpcCode.INVALID_ARGUMENT);
    await expect(b).resolves.toEqual({ accepted: true });
    await expect(a).rejects.toMatchObject({ code: GrpcCode.INVALID_ARGUMENT });
    stream.close();
  });

  it('fails what is unanswered as UNAVAILABLE when the agent ends the stream, and opens another', async () => {
    const { stream, calls } = setup();
    const a = stream.startTask(request('a'), 5_000);
    calls[0].end(GrpcCode.OK);
    await expect(a).rejects.toEqual(
      new AgentCommandError(GrpcCode.UNAVAILABLE, 'the agent ended the StartTasks stream'),
    );
    const b = stream.startTask(request('b'), 5_000);
    expect(calls).toHaveLength(2);
    // The new stream carries the definition again: the agent's memory of it went with the old.
    expect(calls[1].written[0].taskDefinition?.taskDefinitionArn).toBe('arn:td/web:1');
    calls[1].answer('arn:task/b');
    await expect(b).resolves.toEqual({ accepted: true });
    stream.close();
  });

  it('does not fail the starts of a new stream when a closed one reports its end late', async () => {
    const { stream, calls } = setup();
    const a = stream.startTask(request('a'), 5_000);
    stream.close(new AgentCommandError(GrpcCode.UNAVAILABLE, 'replaced'));
    await expect(a).rejects.toMatchObject({ code: GrpcCode.UNAVAILABLE });
    expect(calls[0].cancelled).toBe(true);
    const b = stream.startTask(request('b'), 5_000);
    calls[0].end(GrpcCode.CANCELLED, 'Cancelled on client'); // the old call's status, late
    calls[1].answer('arn:task/b');
    await expect(b).resolves.toEqual({ accepted: true });
    stream.close();
  });

  it('fails a start not answered in time as DEADLINE_EXCEEDED, and ignores its late result', async () => {
    jest.useFakeTimers();
    try {
      const { stream, calls } = setup();
      const a = stream.startTask(request('a'), 1_000);
      jest.advanceTimersByTime(1_000);
      await expect(a).rejects.toMatchObject({ code: GrpcCode.DEADLINE_EXCEEDED });
      calls[0].answer('arn:task/a'); // nobody waits for it any more
      stream.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('leaves out a definition the stream carried, and resends in full when the agent lacks it', async () => {
    const { stream, calls } = setup();
    const a = stream.startTask(request('a'), 5_000);
    const b = stream.startTask(request('b'), 5_000);
    expect(calls[0].written.map((r) => Boolean(r.taskDefinition))).toEqual([true, false]);
    calls[0].answer('arn:task/a');
    calls[0].answer('arn:task/b', GrpcCode.FAILED_PRECONDITION);
    expect(calls[0].written.map((r) => r.task?.taskArn)).toEqual([
      'arn:task/a',
      'arn:task/b',
      'arn:task/b',
    ]);
    expect(calls[0].written[2].taskDefinition?.taskDefinitionArn).toBe('arn:td/web:1');
    calls[0].answer('arn:task/b');
    await expect(a).resolves.toEqual({ accepted: true });
    await expect(b).resolves.toEqual({ accepted: true });
    stream.close();
  });
});
