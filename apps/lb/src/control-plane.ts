import type { Logger } from '@wharf/observability';
import { HealthChecker, type HealthReporter } from './health-checker';
import type { LbMetrics } from './lb-metrics';
import { LbModel, type ModelSnapshot } from './lb-model';
import { LiveConfig } from './live-config';

export interface ControlPlaneOptions {
  logger: Logger;
  metrics: LbMetrics;
  /** where health check results go (state's ReportTargetHealth in the service) */
  reportTargetHealth: HealthReporter;
  /** a full read of state; with `resyncMs`, the model is rebuilt from it periodically */
  readAll?: () => Promise<ModelSnapshot>;
  resyncMs?: number;
}

/**
 * What the lb runs once per replica, whatever number of processes serve its listeners: the
 * model of state's resources, the live configuration derived from it, the health checks and
 * the periodic full read of state. `DataPlane` adds the listeners in the same process; with
 * several worker processes `LbCluster` sends the live configuration to them instead.
 */
export class ControlPlane {
  readonly model = new LbModel();
  readonly live: LiveConfig;
  readonly health: HealthChecker;
  private resyncTimer?: NodeJS.Timeout;
  private resyncing?: Promise<boolean>;
  private synced = false;
  protected stopped = false;
  private readonly resyncObservers: (() => void)[] = [];

  constructor(protected readonly options: ControlPlaneOptions) {
    this.live = new LiveConfig(this.model, options.logger);
    this.health = new HealthChecker(
      this.live,
      options.reportTargetHealth,
      options.metrics,
      options.logger,
    );
  }

  /** Called after every successful full read (a listener that could not open is retried). */
  onResync(observer: () => void): void {
    this.resyncObservers.push(observer);
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
      for (const o of this.resyncObservers) o();
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
  }
}
