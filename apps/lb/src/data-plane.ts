import type { Logger } from '@wharf/observability';
import { HealthChecker, type HealthReporter } from './health-checker';
import type { LbMetrics } from './lb-metrics';
import { LbModel, type ModelSnapshot } from './lb-model';
import { LiveConfig } from './live-config';
import { ProxyManager, type ProxyOptions } from './proxy';

export interface DataPlaneOptions extends ProxyOptions {
  logger: Logger;
  metrics: LbMetrics;
  /** where health check results go (state's ReportTargetHealth in the service) */
  reportTargetHealth: HealthReporter;
  /** a full read of state; with `resyncMs`, the model is rebuilt from it periodically */
  readAll?: () => Promise<ModelSnapshot>;
  resyncMs?: number;
}

/**
 * The load balancer's data plane: the model of state's resources, the live configuration
 * derived from it, the listener servers and the health checks. Tests feed `model` directly;
 * the service also follows events and resyncs from state.
 */
export class DataPlane {
  readonly model = new LbModel();
  readonly live: LiveConfig;
  readonly proxy: ProxyManager;
  readonly health: HealthChecker;
  private resyncTimer?: NodeJS.Timeout;
  private resyncing?: Promise<boolean>;
  private synced = false;
  private stopped = false;

  constructor(private readonly options: DataPlaneOptions) {
    this.live = new LiveConfig(this.model, options.logger);
    this.proxy = new ProxyManager(this.live, options.metrics, options.logger, options);
    this.health = new HealthChecker(
      this.live,
      options.reportTargetHealth,
      options.metrics,
      options.logger,
    );
  }

  /** Whether a full read of state has succeeded at least once. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Reads state once now, then every `resyncMs`. A failed read is logged and retried. */
  async start(): Promise<void> {
    if (!this.options.readAll) return;
    await this.resync();
    this.scheduleResync();
  }

  private scheduleResync(): void {
    if (this.stopped || !this.options.resyncMs) return;
    this.resyncTimer = setTimeout(() => {
      void this.resync().finally(() => this.scheduleResync());
    }, this.options.resyncMs);
  }

  /** Rebuilds the model from a full read of state; false if state could not be read. */
  resync(): Promise<boolean> {
    this.resyncing ??= this.doResync().finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }

  private async doResync(): Promise<boolean> {
    const readAll = this.options.readAll;
    if (!readAll) return false;
    const started = this.model.beginResync();
    try {
      const snapshot = await readAll();
      if (this.stopped) return false;
      this.model.replaceAll(snapshot, started);
      this.options.metrics.configApplies.labels('resync', 'applied').inc();
      if (!this.synced) {
        this.options.logger.info(
          { resources: snapshot.resources.length, targets: snapshot.targets.length },
          'load balancer configuration read from state',
        );
      }
      this.synced = true;
      // A listener whose port could not be opened is tried again.
      this.proxy.sync();
      return true;
    } catch (err) {
      this.options.metrics.configApplies.labels('resync', 'failed').inc();
      this.options.logger.warn({ err }, 'cannot read load balancer configuration from state');
      return false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.resyncTimer);
    await this.resyncing;
    await this.health.stop();
    await this.proxy.close();
  }
}
