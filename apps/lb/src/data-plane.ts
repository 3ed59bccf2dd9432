import { ControlPlane, type ControlPlaneOptions } from './control-plane';
import { ProxyManager, type ProxyOptions } from './proxy';

export interface DataPlaneOptions extends ControlPlaneOptions, ProxyOptions {}

/**
 * The load balancer in one process: the control plane (model, live configuration, health
 * checks, resync) and the listener servers. Tests feed `model` directly; the service also
 * follows events and resyncs from state. With LB_WORKERS > 1 the service runs a
 * `ControlPlane` and an `LbCluster` of worker processes instead.
 */
export class DataPlane extends ControlPlane {
  readonly proxy: ProxyManager;

  constructor(options: DataPlaneOptions) {
    super(options);
    this.proxy = new ProxyManager(this.live, options.metrics, options.logger, options);
    // A listener whose port could not be opened is tried again.
    this.onResync(() => this.proxy.sync());
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.proxy.close();
  }
}
