import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';

export type ReadinessCheck = () => Promise<boolean> | boolean;

/**
 * The operations endpoint every service serves: `/healthz` (the process is alive),
 * `/readyz` (its dependencies answer) and `/metrics` (Prometheus).
 */
export class OpsServer {
  readonly registry = new Registry();
  private server?: Server;
  private readonly checks = new Map<string, ReadinessCheck>();
  private shuttingDown = false;

  constructor(
    private readonly service: string,
    private readonly logger: Logger,
  ) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
  }

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {};
    for (const [name, check] of this.checks) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = false;
      }
    }
    const ready = !this.shuttingDown && Object.values(checks).every(Boolean);
    return { ready, checks };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      send(res, 200, { status: 'ok', service: this.service });
      return true;
    }
    if (path === '/readyz') {
      const r = await this.readiness();
      send(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', ...r });
      return true;
    }
    if (path === '/metrics') {
      // Collected before the head goes out, so a failing collector can still be answered 500.
      const metrics = await this.registry.metrics();
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(metrics);
      return true;
    }
    return false;
  }

  async listen(port: number, host = '0.0.0.0'): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res)
        .then((handled) => {
          if (!handled) send(res, 404, { message: 'not found' });
        })
        .catch((err: unknown) => {
          this.logger.error({ err }, 'ops endpoint failed');
          send(res, 500, { message: 'internal error' });
        });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    this.logger.info({ port }, 'ops endpoint listening (/healthz, /readyz, /metrics)');
  }

  /** The port actually bound (useful when listening on port 0). */
  port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
