import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The data plane's Prometheus metrics; created unregistered, registered on the ops registry.
 * With several worker processes each has its own, and the primary's ops endpoint sums them
 * (prom-client's AggregatorRegistry; each metric's `aggregator` says how).
 */
export class LbMetrics {
  readonly requests = new Counter({
    name: 'wharf_lb_requests_total',
    help: 'Requests answered by the load balancer, by listener port and status class',
    labelNames: ['port', 'status_class'],
    registers: [],
  });
  readonly targetErrors = new Counter({
    name: 'wharf_lb_target_errors_total',
    help: 'Requests a target failed (connection refused or reset, timeout)',
    labelNames: ['target_group', 'kind'],
    registers: [],
  });
  readonly upstreamSeconds = new Histogram({
    name: 'wharf_lb_upstream_duration_seconds',
    help: 'Time from sending a request to a target to its response headers',
    labelNames: ['target_group'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [],
  });
  readonly connections = new Counter({
    name: 'wharf_lb_client_connections_total',
    help: 'Client connections accepted, by listener port',
    labelNames: ['port'],
    registers: [],
  });
  readonly connectionsToNode = new Counter({
    name: 'wharf_lb_client_connections_to_node_total',
    help:
      "Client connections handed to node's HTTP server, by listener port: for a request body, " +
      "an upgrade, HTTP/1.0 or an unusual request head (the others are served by the lb's own " +
      'fast path for plain HTTP/1.1 requests)',
    labelNames: ['port'],
    registers: [],
  });
  readonly healthChecks = new Counter({
    name: 'wharf_lb_health_checks_total',
    help: 'Target health checks, by result',
    labelNames: ['target_group', 'result'],
    registers: [],
  });
  readonly configApplies = new Counter({
    name: 'wharf_lb_config_changes_total',
    help: 'Load balancer resources and targets applied, by source and outcome',
    labelNames: ['source', 'outcome'],
    registers: [],
  });
  readonly openListeners = new Gauge({
    name: 'wharf_lb_listeners',
    help: 'Listener ports open',
    registers: [],
    // Every worker process opens every listener: across processes it is the same ports.
    aggregator: 'max',
  });

  private readonly upstreamByGroup = new Map<string, { observe(seconds: number): void }>();

  /** The upstream latency histogram of one target group (children cached: this is per request). */
  upstreamFor(targetGroupArn: string): { observe(seconds: number): void } {
    let child = this.upstreamByGroup.get(targetGroupArn);
    if (!child) {
      child = this.upstreamSeconds.labels(targetGroupArn);
      this.upstreamByGroup.set(targetGroupArn, child);
    }
    return child;
  }

  register(registry: Registry): void {
    registry.registerMetric(this.requests);
    registry.registerMetric(this.targetErrors);
    registry.registerMetric(this.upstreamSeconds);
    registry.registerMetric(this.connections);
    registry.registerMetric(this.connectionsToNode);
    registry.registerMetric(this.healthChecks);
    registry.registerMetric(this.configApplies);
    registry.registerMetric(this.openListeners);
  }
}
