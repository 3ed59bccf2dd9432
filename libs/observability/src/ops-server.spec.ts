import { Gauge } from 'prom-client';
import { createLogger } from './logging';
import { OpsServer } from './ops-server';

describe('OpsServer', () => {
  it('answers 500 when a metric cannot be collected, and goes on serving', async () => {
    const ops = new OpsServer('test', createLogger('test', 'silent'));
    new Gauge({
      name: 'test_broken',
      help: 'a collector that fails',
      registers: [ops.registry],
      collect() {
        throw new Error('collector failed');
      },
    });
    await ops.listen(0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${ops.port()}`;
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(500);
      expect(await metrics.json()).toEqual({ message: 'internal error' });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await ops.close();
    }
  });
});
