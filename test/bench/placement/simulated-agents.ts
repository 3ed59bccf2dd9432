/**
 * Simulated agents for the placement bench: one lightweight component that stands in for many
 * container instances over the real contracts, without Docker.
 *
 * - registers `count` container instances with state's real gRPC `RegisterContainerInstance`,
 *   all with the same `agent_address`: the one gRPC server below;
 * - heartbeats every instance over JetStream (`subjects.report(cluster, 'heartbeat')`), the
 *   whole fleet in one burst per interval with many publishes in flight;
 * - serves the real `wharf.agent.v1.AgentService`: `StartTask` (a call, or a message on the
 *   `StartTasks` stream the scheduler keeps per agent address) acknowledges at once and
 *   reports the task as the Wharf agent does (a `TaskStateReport`, msgID `<taskArn>:<seq>`):
 *   RUNNING once its start took `startMs`, after PENDING if that is longer than the agent's
 *   AGENT_PENDING_REPORT_DELAY_MS (`pendingReportDelayMs`);
 *   `StopTask` publishes STOPPED. One address means one stream for the whole fleet: a message
 *   costs what it would on a stream per agent, but a task definition travels once for the
 *   fleet instead of once per agent (with 10 tasks per instance, a tenth of the starts would
 *   carry it).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { NatsConnection } from '@nats-io/nats-core';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { CAPABILITIES } from '@wharf/domain';
import {
  connectNats,
  encode,
  HeartbeatReport,
  JetStreamPublisher,
  subjects,
  TaskStateReport,
} from '@wharf/messaging';
import {
  agentV1,
  common,
  createStateClient,
  DefinitionNotSentError,
  PROTO_LOADER_OPTIONS,
  protoRoot,
  StreamedDefinitions,
} from '@wharf/proto';

export interface SimulatedAgentsSettings {
  stateUrl: string;
  natsUrl: string;
  cluster: string;
  count: number;
  cpu: number;
  memory: number;
  /** Spread over this many availability zones (attribute `ecs.availability-zone`). */
  zones: number;
  heartbeatIntervalMs: number;
  /** RegisterContainerInstance calls in flight. */
  registerConcurrency: number;
  /** How long a start takes: RUNNING is reported this long after StartTask (0: at once). */
  startMs: number;
  /**
   * The agent's AGENT_PENDING_REPORT_DELAY_MS: a start still under way this long after
   * StartTask is reported PENDING then (0: at once), so it sends two reports, not one.
   */
  pendingReportDelayMs: number;
}

/** How many report publishes may be unacknowledged at once. */
const MAX_PUBLISHES_IN_FLIGHT = 512;

export class SimulatedAgents {
  readonly instances: common.ContainerInstance[] = [];
  /** Started tasks per instance ARN (for heartbeats' runningTasks). */
  private readonly running = new Map<string, Set<string>>();
  private readonly taskInstance = new Map<string, common.Task>();
  private server?: grpc.Server;
  private nc?: NatsConnection;
  /** Wire-identical to the agent's `JetStreamClient.publish` (subject, msgID, awaiting the PubAck). */
  private js?: JetStreamPublisher;
  private heartbeatTimer?: NodeJS.Timeout;
  private heartbeatRound?: Promise<void>;
  private seq = Date.now() * 1000;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  /** Reports of starts still under way (startMs). */
  private readonly starting = new Set<NodeJS.Timeout>();
  address = '';
  clusterArn = '';
  startsAcknowledged = 0;
  stopsAcknowledged = 0;
  reportsPublished = 0;
  heartbeatsPublished = 0;
  publishErrors = 0;

  constructor(private readonly settings: SimulatedAgentsSettings) {}

  async start(): Promise<void> {
    this.nc = await connectNats({ servers: this.settings.natsUrl, name: 'simulated-agents' });
    this.js = new JetStreamPublisher(this.nc);
    this.address = await this.serve();
    await this.registerAll();
    await this.heartbeatAll();
    this.heartbeatTimer = setInterval(() => {
      this.heartbeatRound ??= this.heartbeatAll().finally(() => (this.heartbeatRound = undefined));
    }, this.settings.heartbeatIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const timer of this.starting) clearTimeout(timer);
    await this.heartbeatRound;
    await Promise.allSettled([...this.pending]);
    this.js?.close();
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.tryShutdown(() => resolve());
    });
    await this.nc?.drain().catch(() => undefined);
  }

  /** Tasks acknowledged and not stopped, over every simulated instance. */
  get runningTasks(): number {
    let n = 0;
    for (const s of this.running.values()) n += s.size;
    return n;
  }

  private serve(): Promise<string> {
    const root = protoRoot();
    const definition = protoLoader.loadSync(join(root, 'wharf', 'agent', 'v1', 'agent.proto'), {
      ...PROTO_LOADER_OPTIONS,
      includeDirs: [root],
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      wharf: { agent: { v1: { AgentService: grpc.ServiceClientConstructor } } };
    };
    const server = new grpc.Server();
    server.addService(loaded.wharf.agent.v1.AgentService.service, {
      StartTask: (
        call: grpc.ServerUnaryCall<agentV1.StartTaskRequest, agentV1.StartTaskResponse>,
        callback: grpc.sendUnaryData<agentV1.StartTaskResponse>,
      ) => {
        const task = call.request.task;
        if (!task?.taskArn) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: 'no task' });
          return;
        }
        callback(null, { accepted: true });
        this.started(task);
      },
      // What the scheduler uses: one stream per agent address, a result per task.
      StartTasks: (
        call: grpc.ServerDuplexStream<agentV1.StartTaskRequest, agentV1.StartTaskResult>,
      ) => {
        // Definitions come once per stream; the tasks after leave theirs out.
        const definitions = new StreamedDefinitions();
        call.on('data', (request: agentV1.StartTaskRequest) => {
          const task = request.task;
          const refuse = (errorCode: number, errorMessage: string) =>
            call.write({ taskArn: task?.taskArn ?? '', accepted: false, errorCode, errorMessage });
          if (!task?.taskArn) return refuse(grpc.status.INVALID_ARGUMENT, 'no task');
          try {
            definitions.complete(request);
          } catch (err) {
            return refuse((err as DefinitionNotSentError).code, (err as Error).message);
          }
          call.write({ taskArn: task.taskArn, accepted: true, errorCode: 0, errorMessage: '' });
          this.started(task);
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
      StopTask: (
        call: grpc.ServerUnaryCall<agentV1.AgentStopTaskRequest, agentV1.AgentStopTaskResponse>,
        callback: grpc.sendUnaryData<agentV1.AgentStopTaskResponse>,
      ) => {
        const task = this.taskInstance.get(call.request.taskArn);
        this.stopsAcknowledged++;
        callback(null, { known: task !== undefined });
        if (!task) return;
        this.taskInstance.delete(task.taskArn);
        this.running.get(task.containerInstanceArn)?.delete(task.taskArn);
        this.report(task, 'STOPPED', call.request.stopCode, call.request.reason);
      },
      StreamLogs: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.emit('error', { code: grpc.status.NOT_FOUND, details: 'simulated agent' });
      },
    });
    return new Promise((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) return reject(err);
        this.server = server;
        resolve(`127.0.0.1:${port}`);
      });
    });
  }

  /** A start acknowledged: the task runs from now on, and says so (RUNNING). */
  private started(task: common.Task): void {
    this.startsAcknowledged++;
    this.taskInstance.set(task.taskArn, task);
    let set = this.running.get(task.containerInstanceArn);
    if (!set) this.running.set(task.containerInstanceArn, (set = new Set()));
    set.add(task.taskArn);
    const { startMs, pendingReportDelayMs } = this.settings;
    if (pendingReportDelayMs === 0 || startMs > pendingReportDelayMs) {
      this.later(task, 'PENDING', pendingReportDelayMs);
    }
    this.later(task, 'RUNNING', startMs);
  }

  /** Reports `lastStatus` after `ms` (at once for 0), unless the task stopped meanwhile. */
  private later(task: common.Task, lastStatus: 'PENDING' | 'RUNNING', ms: number): void {
    if (ms <= 0) return this.report(task, lastStatus);
    const timer = setTimeout(() => {
      this.starting.delete(timer);
      // Stopped meanwhile: STOPPED was reported, and this would be stale.
      if (this.taskInstance.has(task.taskArn)) this.report(task, lastStatus);
    }, ms);
    this.starting.add(timer);
  }

  private async registerAll(): Promise<void> {
    const { stateUrl, cluster, count, cpu, memory, zones, registerConcurrency } = this.settings;
    const state = createStateClient(stateUrl);
    try {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          const instance = await firstValueFrom(
            state.client.registerContainerInstance({
              cluster,
              containerInstanceArn: '',
              ec2InstanceId: '',
              total: { cpu, memory, ports: [22, 2375, 2376, 51678, 51679], portsUdp: [] },
              attributes: [
                { name: 'ecs.availability-zone', value: `zone-${i % zones}` },
                { name: 'ecs.os-type', value: 'linux' },
                { name: 'ecs.cpu-architecture', value: 'x86_64' },
                // The capabilities a Wharf agent announces (definitions may require them).
                ...Object.values(CAPABILITIES).map((name) => ({ name, value: '' })),
              ],
              agentVersion: '0.0.0-simulated',
              dockerVersion: 'simulated',
              agentAddress: this.address,
              hostname: `sim-${i}`,
              hostAddress: '127.0.0.1',
            }),
          );
          this.instances.push(instance);
          this.running.set(instance.containerInstanceArn, new Set());
          this.clusterArn ||= arnOfCluster(instance.containerInstanceArn, cluster);
        }
      };
      await Promise.all(Array.from({ length: registerConcurrency }, worker));
    } finally {
      state.close();
    }
  }

  /** One heartbeat per instance, published with many in flight (the whole fleet per round). */
  private async heartbeatAll(): Promise<void> {
    const subject = subjects.report(this.settings.cluster, 'heartbeat');
    await Promise.all(
      this.instances.map((i) => {
        const report: HeartbeatReport = {
          v: 1,
          clusterArn: this.clusterArn,
          containerInstanceArn: i.containerInstanceArn,
          sentAt: Date.now(),
          runningTasks: this.running.get(i.containerInstanceArn)?.size ?? 0,
        };
        return this.publish(subject, report).then(() => this.heartbeatsPublished++);
      }),
    );
  }

  private report(
    task: common.Task,
    lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED',
    stopCode = '',
    reason = '',
  ) {
    const now = Date.now();
    const seq = ++this.seq > now * 1000 ? this.seq : (this.seq = now * 1000);
    const report: TaskStateReport = {
      v: 1,
      clusterArn: task.clusterArn,
      containerInstanceArn: task.containerInstanceArn,
      taskArn: task.taskArn,
      seq,
      lastStatus,
      containers: task.containers.map((c, i) => ({
        name: c.name,
        runtimeId: `sim${task.taskArn.slice(-24)}${i}`,
        lastStatus,
        ...(lastStatus === 'STOPPED' ? { exitCode: 0 } : {}),
      })),
      pullStartedAt: now,
      ...(lastStatus === 'PENDING' ? {} : { pullStoppedAt: now }),
      ...(lastStatus === 'PENDING'
        ? {}
        : lastStatus === 'RUNNING'
          ? { startedAt: now }
          : {
              stopCode,
              stoppedReason: reason,
              stoppingAt: now,
              stoppedAt: now,
              executionStoppedAt: now,
            }),
      reportedAt: now,
    };
    const p = this.publish(subjects.report(this.settings.cluster, 'task_state'), report, {
      msgID: `${task.taskArn}:${seq}`,
    }).then(() => this.reportsPublished++);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async publish(subject: string, payload: unknown, opts?: { msgID: string }) {
    while (this.inFlight >= MAX_PUBLISHES_IN_FLIGHT) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.inFlight++;
    try {
      await this.js!.publish(subject, encode(payload), opts);
    } catch {
      this.publishErrors++;
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}

function arnOfCluster(instanceArn: string, cluster: string): string {
  // arn:aws:ecs:<region>:<account>:container-instance/<cluster>/<id>
  const [prefix] = instanceArn.split(':container-instance/');
  return `${prefix}:cluster/${cluster}`;
}
