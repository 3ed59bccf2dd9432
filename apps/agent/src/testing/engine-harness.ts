import Docker from 'dockerode';
import pino from 'pino';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connectNats, decode, ensureStreams, subjects, TaskStateReport } from '@wharf/messaging';
import type { common } from '@wharf/proto';
import { eventually, startNats, StartedNats } from '@wharf/testing';
import { LABELS } from '../engine/labels';
import { TaskEngine, TaskEngineOptions } from '../engine/task-engine';
import { JetStreamReportPublisher } from '../reporting/report-publisher';

/**
 * Test support for the engine against the real Docker engine: a NATS container, a publisher,
 * every task report of the run collected in order, and clean-up of every container and task
 * volume labelled for this harness's instance.
 */
export class EngineHarness {
  readonly run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  readonly cluster = `agentit${this.run}`;
  readonly clusterArn = `arn:aws:ecs:us-east-1:000000000000:cluster/${this.cluster}`;
  readonly instanceArn = `arn:aws:ecs:us-east-1:000000000000:container-instance/${this.cluster}/ci-${this.run}`;
  readonly docker = new Docker({
    socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock',
  });
  readonly logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  readonly reports: TaskStateReport[] = [];
  private readonly engines: TaskEngine[] = [];
  private nats?: StartedNats;
  private nc?: NatsConnection;
  private sub?: Subscription;
  private publisher?: JetStreamReportPublisher;
  private counter = 0;

  async start(): Promise<void> {
    this.nats = await startNats();
    this.nc = await connectNats({ servers: this.nats.url, name: 'agent-int-test' });
    await ensureStreams(this.nc);
    // JetStream-published messages are also delivered to plain subscribers of the subject.
    const sub = this.nc.subscribe(subjects.report(this.cluster, 'task_state'));
    this.sub = sub;
    void (async () => {
      for await (const m of sub) this.reports.push(decode<TaskStateReport>(m.data));
    })();
    this.publisher = new JetStreamReportPublisher(this.nc, this.cluster, this.logger);
  }

  async stop(): Promise<void> {
    for (const e of this.engines) await e.close(1_000);
    await this.removeLeftovers();
    this.publisher?.close();
    this.sub?.unsubscribe();
    await this.nc?.drain().catch(() => undefined);
    await this.nats?.container.stop();
  }

  newEngine(options: Partial<TaskEngineOptions> = {}): TaskEngine {
    const engine = new TaskEngine({
      docker: this.docker,
      sink: this.publisher!,
      logger: this.logger,
      clusterName: this.cluster,
      clusterArn: this.clusterArn,
      containerInstanceArn: this.instanceArn,
      defaultStopTimeoutS: 2,
      cleanupWaitMs: 0,
      ...options,
    });
    this.engines.push(engine);
    return engine;
  }

  newTaskArn(): string {
    return `arn:aws:ecs:us-east-1:000000000000:task/${this.cluster}/t${this.run}x${++this.counter}`;
  }

  taskOf(taskArn: string, overrides?: object): common.Task {
    return { taskArn, overridesJson: overrides ? JSON.stringify(overrides) : '' } as common.Task;
  }

  definitionOf(family: string, containerDefinitions: object[], extra: object = {}) {
    return {
      family,
      revision: 1,
      definitionJson: JSON.stringify({ family, revision: 1, containerDefinitions, ...extra }),
    } as common.TaskDefinition;
  }

  reportsFor(taskArn: string): TaskStateReport[] {
    return this.reports.filter((r) => r.taskArn === taskArn);
  }

  waitForReport(
    taskArn: string,
    lastStatus: string,
    match: (r: TaskStateReport) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<TaskStateReport> {
    return eventually(
      async () => {
        const mine = this.reportsFor(taskArn);
        const found = mine.find((r) => r.lastStatus === lastStatus && match(r));
        const stopped = mine.find((r) => r.lastStatus === 'STOPPED');
        if (!found && stopped && lastStatus !== 'STOPPED') {
          throw new Error(`task STOPPED instead: ${stopped.stopCode} ${stopped.stoppedReason}`);
        }
        return found;
      },
      `${lastStatus} report for ${taskArn}`,
      timeoutMs,
      100,
    );
  }

  containersOf(taskArn: string): Promise<Docker.ContainerInfo[]> {
    return this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.taskArn}=${taskArn}`] },
    });
  }

  /** The container of `name` in the task, inspected. */
  async inspect(taskArn: string, name: string): Promise<Docker.ContainerInspectInfo> {
    const found = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.taskArn}=${taskArn}`, `${LABELS.containerName}=${name}`] },
    });
    if (!found.length) throw new Error(`no container ${name} for ${taskArn}`);
    return this.docker.getContainer(found[0].Id).inspect();
  }

  waitUntilRemoved(taskArn: string, timeoutMs = 30_000): Promise<true> {
    return eventually(
      async () => ((await this.containersOf(taskArn)).length === 0 ? true : undefined),
      `containers of ${taskArn} removed`,
      timeoutMs,
      100,
    );
  }

  private async removeLeftovers(): Promise<void> {
    const ours = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.containerInstanceArn}=${this.instanceArn}`] },
    });
    await Promise.all(
      ours.map((c) =>
        this.docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined),
      ),
    );
    const { Volumes } = await this.docker.listVolumes();
    await Promise.all(
      (Volumes ?? [])
        .filter((v) => (v.Labels?.[LABELS.taskArn] ?? '').includes(`/t${this.run}x`))
        .map((v) =>
          this.docker
            .getVolume(v.Name)
            .remove()
            .catch(() => undefined),
        ),
    );
  }
}
