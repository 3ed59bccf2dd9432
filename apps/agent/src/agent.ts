import 'reflect-metadata';
import os from 'node:os';
import Docker from 'dockerode';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { arns } from '@wharf/domain';
import { connectNats, ensureStreams } from '@wharf/messaging';
import { OpsServer, PinoNestLogger } from '@wharf/observability';
import { createStateClient, grpcOptions, GrpcExceptionFilter, grpcTlsFromEnv } from '@wharf/proto';
import { AGENT_LOGGER, AgentController } from './agent.controller';
import type { AgentConfig } from './config';
import { describeClusterTasks } from './engine/describe-cluster-tasks';
import { TaskEngine } from './engine/task-engine';
import { ContainerLogs } from './logs/container-logs';
import {
  AGENT_VERSION,
  defaultHostAddress,
  hostResources,
  instanceAttributes,
  resolvePort,
} from './host-info';
import { registerContainerInstance } from './register-container-instance';
import { Heartbeat } from './reporting/heartbeat';
import { JetStreamReportPublisher } from './reporting/report-publisher';
import { retryForever } from './retry';
import { StatsCollector } from './stats/stats-collector';
import { UtilisationReporter } from './stats/utilisation-reporter';

export interface RunningAgent {
  stop(): Promise<void>;
  /** Where this process serves gRPC, reachable from the local machine. */
  grpcUrl: string;
  containerInstanceArn: string;
  /** The ops server's port (/healthz, /readyz, /metrics). */
  opsPort: number;
  /** Exposed for tests and diagnostics. */
  engine: TaskEngine;
}

/**
 * Starts the agent: NATS and Docker first, then registration with state (retried until state
 * answers), then the task engine (adopting containers an earlier agent left running), the
 * gRPC server and heartbeats.
 */
export async function startAgent(config: AgentConfig, logger: Logger): Promise<RunningAgent> {
  // What to undo, newest first, when start-up fails part-way.
  const undo: (() => Promise<unknown> | unknown)[] = [];
  try {
    return await start(config, logger, undo);
  } catch (err) {
    for (const step of undo) await Promise.resolve(step()).catch(() => undefined);
    throw err;
  }
}

async function start(
  config: AgentConfig,
  logger: Logger,
  undo: (() => Promise<unknown> | unknown)[],
): Promise<RunningAgent> {
  // A bad GRPC_TLS_* setting stops the agent now, not after it has waited for NATS and Docker.
  const tls = grpcTlsFromEnv();
  const ops = new OpsServer('agent', logger);
  const opsPort = await resolvePort(config.AGENT_OPS_PORT);
  await ops.listen(opsPort);
  undo.unshift(() => ops.close());
  let ready = false;
  ops.addReadinessCheck('registered', () => ready);

  const nc = await retryForever(
    'connecting to NATS',
    () => connectNats({ servers: config.NATS_URL, name: `wharf-agent-${os.hostname()}` }),
    logger,
  );
  undo.unshift(() => nc.close());
  await retryForever('creating NATS streams', () => ensureStreams(nc), logger);
  ops.addReadinessCheck('nats', () => !nc.isClosed());

  const docker = new Docker({ socketPath: config.DOCKER_SOCKET });
  const dockerVersion = await retryForever(
    'reaching the Docker engine',
    async () => {
      await docker.ping();
      return (await docker.version()).Version;
    },
    logger,
  );
  ops.addReadinessCheck('docker', async () => {
    await docker.ping();
    return true;
  });

  const grpcPort = await resolvePort(config.AGENT_GRPC_PORT);
  const agentAddress = config.AGENT_ADVERTISE_ADDRESS ?? `${os.hostname()}:${grpcPort}`;
  const hostAddress = config.AGENT_HOST_ADDRESS ?? defaultHostAddress();

  const state = createStateClient(config.STATE_URL, tls);
  undo.unshift(() => state.close());
  const instance = await registerContainerInstance(
    state.client,
    {
      cluster: config.WHARF_CLUSTER,
      ec2InstanceId: '',
      total: hostResources(config),
      attributes: instanceAttributes(config.AGENT_ATTRIBUTES),
      agentVersion: AGENT_VERSION,
      dockerVersion,
      agentAddress,
      hostname: os.hostname(),
      hostAddress,
      joinToken: config.WHARF_JOIN_TOKEN ?? '',
    },
    config.AGENT_DATA_DIR,
    logger,
  );
  const containerInstanceArn = instance.containerInstanceArn;
  const clusterArn =
    instance.clusterArn ||
    arns.cluster(
      { region: config.WHARF_REGION, accountId: config.WHARF_ACCOUNT_ID },
      config.WHARF_CLUSTER,
    );
  const log = logger.child({ containerInstanceArn });

  const publisher = new JetStreamReportPublisher(nc, config.WHARF_CLUSTER, log);
  undo.unshift(() => publisher.close());
  const engine = new TaskEngine({
    docker,
    sink: publisher,
    logger,
    clusterName: config.WHARF_CLUSTER,
    clusterArn,
    containerInstanceArn,
    defaultStopTimeoutS: config.AGENT_STOP_TIMEOUT_S,
    pullBehavior: config.AGENT_IMAGE_PULL_BEHAVIOR,
    cleanupWaitMs: config.AGENT_TASK_CLEANUP_WAIT_MS,
    pendingReportDelayMs: config.AGENT_PENDING_REPORT_DELAY_MS,
    allowPrivileged: config.AGENT_ALLOW_PRIVILEGED,
    describeTasks: (tasks) => describeClusterTasks(state.client, config.WHARF_CLUSTER, tasks),
  });
  undo.unshift(() => engine.close(1_000));
  await engine.start();
  registerMetrics(ops, engine, publisher);

  @Module({
    controllers: [AgentController],
    providers: [
      { provide: TaskEngine, useValue: engine },
      { provide: AGENT_LOGGER, useValue: log },
      {
        provide: ContainerLogs,
        useValue: new ContainerLogs(docker, containerInstanceArn, log, ops.registry),
      },
    ],
  })
  class AgentModule {}

  const app = await NestFactory.createMicroservice<MicroserviceOptions>(AgentModule, {
    ...grpcOptions('agent', `0.0.0.0:${grpcPort}`, tls),
    logger: new PinoNestLogger(log),
  });
  app.useGlobalFilters(new GrpcExceptionFilter(log, 'agent'));
  // The gRPC server closes gracefully, waiting for its calls to end: the StartTasks streams
  // schedulers keep open are ended first (they send what was unanswered again elsewhere).
  const closeGrpc = async () => {
    app.get(AgentController).endStreams();
    await app.close();
  };
  undo.unshift(closeGrpc);
  await app.listen();
  log.info({ grpcPort, agentAddress, hostAddress }, 'agent gRPC listening');
  // A StopTask that could not reach this agent (it was starting, or the scheduler's channel
  // to it was backing off) is only in state: ask now, and then now and again.
  void engine.checkDesiredStatus();
  let desiredCheck: NodeJS.Timeout | undefined;
  if (config.AGENT_DESIRED_STATUS_CHECK_MS > 0) {
    desiredCheck = setInterval(
      () => void engine.checkDesiredStatus(),
      config.AGENT_DESIRED_STATUS_CHECK_MS,
    );
    desiredCheck.unref();
    undo.unshift(() => clearInterval(desiredCheck));
  }

  const heartbeat = new Heartbeat(
    nc,
    {
      clusterName: config.WHARF_CLUSTER,
      clusterArn,
      containerInstanceArn,
      intervalMs: config.AGENT_HEARTBEAT_INTERVAL_MS,
      runningTasks: () => engine.runningTaskCount(),
    },
    log,
  );
  heartbeat.start();
  const utilisation = new UtilisationReporter(
    nc,
    new StatsCollector(docker, { clusterArn, containerInstanceArn }, log),
    { clusterName: config.WHARF_CLUSTER, intervalMs: config.AGENT_STATS_INTERVAL_MS },
    log,
  );
  utilisation.start();
  ready = true;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Task containers are left running: a restarted agent adopts them.
      ready = false;
      clearInterval(desiredCheck);
      ops.markShuttingDown();
      await closeGrpc();
      await heartbeat.stop();
      await utilisation.stop();
      await engine.close();
      const flushed = await publisher.flush(5_000);
      if (!flushed) log.warn({ pending: publisher.pending }, 'some task reports were not flushed');
      publisher.close();
      state.close();
      await nc.drain().catch(() => undefined);
      await ops.close();
    })());

  return { stop, grpcUrl: `127.0.0.1:${grpcPort}`, containerInstanceArn, opsPort, engine };
}

function registerMetrics(ops: OpsServer, engine: TaskEngine, publisher: JetStreamReportPublisher) {
  new Gauge({
    name: 'wharf_agent_tasks',
    help: 'Tasks this agent knows, by known status',
    labelNames: ['status'],
    registers: [ops.registry],
    collect() {
      this.reset();
      for (const [status, n] of Object.entries(engine.countByStatus())) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'wharf_agent_task_reports_pending',
    help: 'Task state reports waiting to be published',
    registers: [ops.registry],
    collect() {
      this.set(publisher.pending);
    },
  });
  let seen = 0;
  new Counter({
    name: 'wharf_agent_task_reports_published_total',
    help: 'Task state reports published to JetStream',
    registers: [ops.registry],
    collect() {
      this.inc(publisher.published - seen);
      seen = publisher.published;
    },
  });
}
