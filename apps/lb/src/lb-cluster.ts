import cluster, { type Worker } from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client';
import { OpsServer, type Logger } from '@wharf/observability';
import type { LiveConfig } from './live-config';
import type { ProxyOptions } from './proxy';
import {
  LB_WORKER_ENV,
  type PrimaryMessage,
  type WorkerInit,
  type WorkerMessage,
} from './lb-worker-protocol';

export interface LbClusterOptions {
  /** how many worker processes serve the listeners */
  workers: number;
  logger: Logger;
  /** the workers' log level */
  logLevel: string;
  /** what each worker's listeners and target connections run with */
  proxy: ProxyOptions;
  /**
   * how a worker is started: the script and its arguments. Default: this process's own
   * entry point (node:cluster's default), whose main.ts runs a worker when `cluster.isWorker`.
   * Tests and the bench, which run TypeScript, give a launcher.
   */
  exec?: string;
  args?: string[];
  execArgv?: string[];
  /** how long a stopping worker may take to finish its requests before it is killed */
  stopTimeoutMs: number;
  /** how long `start` waits for every worker to serve; default 60 s */
  startTimeoutMs?: number;
}

interface WorkerState {
  worker: Worker;
  pid: number;
  startedAt: number;
  /** the last configuration sequence number the worker applied (listeners open) */
  applied: number;
  /** ports its listener servers have open, as of `applied` */
  ports: number[];
  said: boolean;
}

/** A worker that dies within this long of its start counts as a crash loop (restarts back off). */
const CRASH_LOOP_MS = 5_000;
const MAX_RESTART_DELAY_MS = 5_000;
const METRICS_TIMEOUT_MS = 2_000;
const START_TIMEOUT_MS = 60_000;

/**
 * The primary process of a multi-process lb (LB_WORKERS > 1). It forks the workers that serve
 * the listeners — node:cluster shares each listener port among them — and sends every worker
 * the whole live configuration (listeners, rules, target groups, targets and their health)
 * over IPC on every change, so that all of them route identically and changes apply live.
 * The control plane (state and NATS watchers, resync, health checks, health reports) runs
 * here once. A worker that dies is replaced; `stop` drains the workers.
 *
 * The only writer of the worker set: workers are forked and reaped here alone.
 */
export class LbCluster {
  private readonly workers = new Map<number, WorkerState>();
  private seq = 0;
  private broadcastScheduled = false;
  private stopping = false;
  private recentCrashes = 0;
  private metricsRequests = 0;
  private readonly pendingMetrics = new Map<
    number,
    { responses: object[][]; waiting: Set<number>; done: () => void }
  >();
  private readonly waiters: (() => void)[] = [];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  readonly restarts = new Counter({
    name: 'wharf_lb_worker_restarts_total',
    help: 'lb worker processes that died and were replaced',
    registers: [],
  });
  readonly alive = new Gauge({
    name: 'wharf_lb_workers',
    help: 'lb worker processes running',
    registers: [],
  });

  constructor(
    private readonly live: LiveConfig,
    private readonly options: LbClusterOptions,
  ) {
    live.onChange(() => this.scheduleBroadcast());
  }

  registerMetrics(registry: Registry): void {
    registry.registerMetric(this.restarts);
    registry.registerMetric(this.alive);
  }

  /** Forks the workers and resolves once each has applied the configuration. */
  async start(): Promise<void> {
    const { exec, args, execArgv } = this.options;
    // Only what is given: node:cluster's defaults (this process's entry) for the rest.
    cluster.setupPrimary({
      ...(exec !== undefined ? { exec } : {}),
      ...(args !== undefined ? { args } : {}),
      ...(execArgv !== undefined ? { execArgv } : {}),
    });
    for (let i = 0; i < this.options.workers; i++) this.fork();
    // Workers that cannot start (a bad entry point, a crash at load) must not leave the
    // service waiting for ever: it fails, and says so.
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.options.startTimeoutMs ?? START_TIMEOUT_MS;
    try {
      await Promise.race([
        this.ready(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `lb workers not serving within ${timeoutMs} ms (${this.serving()} of ${this.options.workers} up)`,
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends the configuration now (not at the end of this tick) to every worker. */
  broadcast(): void {
    this.broadcastScheduled = false;
    if (this.stopping) return;
    this.seq++;
    const message: PrimaryMessage = {
      type: 'lb:config',
      seq: this.seq,
      snapshot: this.live.snapshot(),
    };
    for (const w of this.workers.values()) if (w.said) this.send(w, message);
  }

  /**
   * Resolves once every running worker has applied the latest configuration and its
   * listeners have opened (or failed to).
   */
  ready(): Promise<void> {
    if (this.broadcastScheduled) this.broadcast();
    return new Promise((resolve) => {
      // Checked again on every worker report, fork and exit until it holds.
      const check = () => {
        if (this.isUpToDate() || this.stopping) resolve();
        else this.waiters.push(check);
      };
      check();
    });
  }

  /** Process ids of the running workers. */
  pids(): number[] {
    return [...this.workers.values()].map((w) => w.pid);
  }

  /** How many workers are running with the configuration applied. */
  serving(): number {
    let n = 0;
    for (const w of this.workers.values()) if (w.applied > 0) n++;
    return n;
  }

  /** Every worker's metrics (from `Registry.getMetricsAsJSON`); a worker that does not answer in time is left out. */
  workerMetrics(): Promise<object[][]> {
    const requestId = ++this.metricsRequests;
    const asked = [...this.workers.values()].filter((w) => w.said && w.worker.isConnected());
    if (asked.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const request = {
        responses: [] as object[][],
        waiting: new Set(asked.map((w) => w.worker.id)),
        done: () => {
          clearTimeout(timer);
          this.pendingMetrics.delete(requestId);
          resolve(request.responses);
        },
      };
      const timer = setTimeout(request.done, METRICS_TIMEOUT_MS);
      this.pendingMetrics.set(requestId, request);
      for (const w of asked) this.send(w, { type: 'lb:metrics-request', requestId });
    });
  }

  /** Tells every worker to stop accepting and finish its requests; kills what remains after the timeout. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
    for (const w of this.waiters.splice(0)) w();
    const all = [...this.workers.values()];
    const exits = all.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.worker.process.exitCode !== null || w.worker.process.signalCode !== null) resolve();
          else w.worker.once('exit', () => resolve());
        }),
    );
    for (const w of all) this.send(w, { type: 'lb:shutdown' });
    const timer = setTimeout(() => {
      for (const w of all) {
        if (w.worker.process.exitCode === null) {
          this.options.logger.warn({ pid: w.pid }, 'lb worker did not stop in time; killing it');
          w.worker.process.kill('SIGKILL');
        }
      }
    }, this.options.stopTimeoutMs + 1000);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  // ------------------------------------------------------------------ internals

  private fork(): void {
    const init: WorkerInit = { logLevel: this.options.logLevel, proxy: this.options.proxy };
    const worker = cluster.fork({ [LB_WORKER_ENV]: JSON.stringify(init) });
    const state: WorkerState = {
      worker,
      pid: worker.process.pid ?? 0,
      startedAt: Date.now(),
      applied: 0,
      ports: [],
      said: false,
    };
    this.workers.set(worker.id, state);
    this.alive.set(this.workers.size);
    this.options.logger.info({ pid: state.pid, worker: worker.id }, 'lb worker started');
    worker.on('message', (message: WorkerMessage) => this.onMessage(state, message));
    worker.on('error', (err) =>
      this.options.logger.warn({ err, pid: state.pid }, 'lb worker IPC error'),
    );
    worker.once('exit', (code, signal) => this.onExit(state, code, signal));
  }

  private onMessage(state: WorkerState, message: WorkerMessage): void {
    switch (message?.type) {
      case 'lb:hello':
        // The worker listens for messages now: give it the configuration as it stands.
        state.said = true;
        this.send(state, { type: 'lb:config', seq: this.seq, snapshot: this.live.snapshot() });
        return;
      case 'lb:applied':
        if (message.seq >= state.applied) {
          state.applied = Math.max(message.seq, 1);
          state.ports = message.ports;
        }
        if (state.applied >= 1 && state.startedAt + CRASH_LOOP_MS < Date.now()) {
          this.recentCrashes = 0;
        }
        this.wake();
        return;
      case 'lb:metrics': {
        const request = this.pendingMetrics.get(message.requestId);
        if (!request || !request.waiting.delete(state.worker.id)) return;
        request.responses.push(message.metrics);
        if (request.waiting.size === 0) request.done();
        return;
      }
      default:
        return; // prom-client's or node's own messages
    }
  }

  private onExit(state: WorkerState, code: number | null, signal: string | null): void {
    this.workers.delete(state.worker.id);
    this.alive.set(this.workers.size);
    for (const request of this.pendingMetrics.values()) {
      if (request.waiting.delete(state.worker.id) && request.waiting.size === 0) request.done();
    }
    this.wake();
    if (this.stopping) {
      this.options.logger.info({ pid: state.pid, code, signal }, 'lb worker stopped');
      return;
    }
    this.restarts.inc();
    const crashed = Date.now() - state.startedAt < CRASH_LOOP_MS;
    this.recentCrashes = crashed ? this.recentCrashes + 1 : 0;
    const delayMs = crashed
      ? Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (this.recentCrashes - 1))
      : 0;
    this.options.logger.error(
      { pid: state.pid, worker: state.worker.id, code, signal, restartInMs: delayMs },
      'lb worker died; starting another',
    );
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.stopping) this.fork();
    }, delayMs);
    this.restartTimers.add(timer);
  }

  private scheduleBroadcast(): void {
    if (this.broadcastScheduled) return;
    this.broadcastScheduled = true;
    // Many changes in one tick (a resync, a batch of events) make one message.
    setImmediate(() => {
      if (this.broadcastScheduled) this.broadcast();
    });
  }

  private isUpToDate(): boolean {
    if (this.broadcastScheduled) return false;
    if (this.workers.size < this.options.workers) return false;
    for (const w of this.workers.values()) if (w.applied < Math.max(this.seq, 1)) return false;
    return true;
  }

  private wake(): void {
    const waiting = this.waiters.splice(0);
    for (const w of waiting) w();
  }

  private send(state: WorkerState, message: PrimaryMessage): void {
    if (!state.worker.isConnected()) return;
    state.worker.send(message, (err: Error | null) => {
      if (err) this.options.logger.debug({ err, pid: state.pid }, 'cannot reach lb worker');
    });
  }
}

/**
 * The ops endpoint of the primary process: `/metrics` aggregates the primary's own metrics
 * (control plane, health checks, events) and every worker's (requests, target errors,
 * upstream latency) with prom-client's AggregatorRegistry: counters and histograms are
 * summed over processes, gauges as each one declares.
 */
export class ClusterOpsServer extends OpsServer {
  constructor(
    service: string,
    logger: Logger,
    private readonly lbCluster: LbCluster,
  ) {
    super(service, logger);
  }

  override async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return super.handle(req, res);
    const [own, workers] = await Promise.all([
      this.registry.getMetricsAsJSON(),
      this.lbCluster.workerMetrics(),
    ]);
    const aggregated = AggregatorRegistry.aggregate([own, ...workers]);
    res.writeHead(200, { 'content-type': aggregated.contentType });
    res.end(await aggregated.metrics());
    return true;
  }
}
