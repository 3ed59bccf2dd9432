import { Counter, Gauge, type Histogram, type Registry } from 'prom-client';

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
  readonly upstreamSeconds = new GroupHistogram(
    'wharf_lb_upstream_duration_seconds',
    'Time from sending a request to a target to its response headers',
    'target_group',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
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

  /** The upstream latency histogram of one target group (observed on every request). */
  upstreamFor(targetGroupArn: string): { observe(seconds: number): void } {
    return this.upstreamSeconds.child(targetGroupArn);
  }

  register(registry: Registry): void {
    registry.registerMetric(this.requests);
    registry.registerMetric(this.targetErrors);
    // read by the registry as a Histogram is: name, aggregator, get() and reset()
    registry.registerMetric(this.upstreamSeconds as unknown as Histogram);
    registry.registerMetric(this.connections);
    registry.registerMetric(this.connectionsToNode);
    registry.registerMetric(this.healthChecks);
    registry.registerMetric(this.configApplies);
    registry.registerMetric(this.openListeners);
  }
}

/** One value of a metric as prom-client's registries read it. */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A histogram with one label, observed on every proxied request. prom-client's Histogram
 * builds and hashes a label object and finds the bucket by a string key on each observe (a
 * few per cent of the lb's CPU per request); this keeps plain counts per label value and
 * gives prom-client's registries the same figures when they collect: `get()` returns what
 * Histogram's does, which Registry (text exposition) and AggregatorRegistry (summing the
 * worker processes' metrics) read.
 */
export class GroupHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly children = new Map<string, HistogramChild>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly upperBounds: number[],
  ) {}

  child(labelValue: string): HistogramChild {
    let child = this.children.get(labelValue);
    if (!child) {
      child = new HistogramChild(this.upperBounds);
      this.children.set(labelValue, child);
    }
    return child;
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Sample[];
  }> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [labelValue, child] of this.children) {
      let cumulative = 0;
      child.counts.forEach((n, i) => {
        cumulative += n;
        const labels = { le: this.upperBounds[i], [this.labelName]: labelValue };
        values.push({ labels, value: cumulative, metricName: bucket });
      });
      const labels = { [this.labelName]: labelValue };
      values.push(
        { labels: { le: '+Inf', ...labels }, value: child.count, metricName: bucket },
        { labels, value: child.sum, metricName: `${this.name}_sum` },
        { labels, value: child.count, metricName: `${this.name}_count` },
      );
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    this.children.clear();
  }
}

class HistogramChild {
  /** observations per bucket, not cumulative (the last upper bound's bucket included) */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(private readonly upperBounds: number[]) {
    this.counts = upperBounds.map(() => 0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}
