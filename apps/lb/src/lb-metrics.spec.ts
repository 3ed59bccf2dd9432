import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { GroupHistogram } from './lb-metrics';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED: [string, number][] = [
  ['a', 0.0005],
  ['a', 0.001], // on a bound: that bucket
  ['b', 0.05],
  ['a', 0.7],
  ['b', 3], // above every bound: +Inf only
  ['a', 0.0999],
];

function both(observed: [string, number][]) {
  const reference = new Histogram({
    name: 'latency_seconds',
    help: 'help text',
    labelNames: ['group'],
    buckets: BUCKETS,
    registers: [],
  });
  const ours = new GroupHistogram('latency_seconds', 'help text', 'group', BUCKETS);
  for (const [group, value] of observed) {
    reference.labels(group).observe(value);
    ours.child(group).observe(value);
  }
  const referenceRegistry = new Registry();
  referenceRegistry.registerMetric(reference);
  const ourRegistry = new Registry();
  ourRegistry.registerMetric(ours as unknown as Histogram);
  return { referenceRegistry, ourRegistry };
}

describe('GroupHistogram (the lb’s per-request latency histogram)', () => {
  it('exposes exactly what prom-client’s Histogram exposes for the same observations', async () => {
    const { referenceRegistry, ourRegistry } = both(OBSERVED);
    const text = await ourRegistry.metrics();
    expect(text).toBe(await referenceRegistry.metrics());
    expect(text).toContain('latency_seconds_bucket{le="+Inf",group="a"} 4');
    expect(text).toContain('latency_seconds_count{group="b"} 2');
  });

  it('sums across worker processes as prom-client’s AggregatorRegistry sums histograms', async () => {
    const workers = [both(OBSERVED), both(OBSERVED.slice(2))];
    const aggregate = async (pick: 'referenceRegistry' | 'ourRegistry') =>
      AggregatorRegistry.aggregate(
        await Promise.all(workers.map((w) => w[pick].getMetricsAsJSON())),
      ).metrics();
    expect(await aggregate('ourRegistry')).toBe(await aggregate('referenceRegistry'));
  });

  it('starts over on reset and ignores values that are not numbers', async () => {
    const { ourRegistry } = both(OBSERVED);
    ourRegistry.resetMetrics();
    const ours = ourRegistry.getSingleMetric('latency_seconds') as unknown as GroupHistogram;
    ours.child('a').observe(Number.NaN);
    ours.child('a').observe(0.5);
    const text = await ourRegistry.metrics();
    expect(text).toContain('latency_seconds_count{group="a"} 1');
    expect(text).toContain('latency_seconds_sum{group="a"} 0.5');
    expect(text).not.toContain('group="b"');
  });
});
