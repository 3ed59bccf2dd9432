import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { UtilisationReport } from '@wharf/messaging';
import { LABELS } from '../engine/labels';
import {
  buildUtilisationReport,
  containerFigures,
  EngineStats,
  HostTotals,
  SampledContainer,
} from './utilisation';

export interface StatsCollectorSettings {
  clusterArn: string;
  containerInstanceArn: string;
  /** Engine stats calls in flight at once (each takes about a second: two CPU samples). */
  concurrency?: number;
}

/**
 * Samples the engine's stats of every running container this instance runs for Wharf (by
 * label) and turns them into one UtilisationReport. Read-only: it never changes a container.
 */
export class StatsCollector {
  private host?: HostTotals;

  constructor(
    private readonly docker: Docker,
    private readonly settings: StatsCollectorSettings,
    private readonly logger: Logger,
  ) {}

  async collect(): Promise<UtilisationReport> {
    const host = await this.hostTotals();
    const listed = await this.docker.listContainers({
      filters: {
        status: ['running'],
        label: [
          LABELS.taskArn,
          `${LABELS.containerInstanceArn}=${this.settings.containerInstanceArn}`,
        ],
      },
    });
    const samples = await mapLimit(listed, this.settings.concurrency ?? 8, async (info) => {
      try {
        const stats = (await this.docker
          .getContainer(info.Id)
          .stats({ stream: false })) as unknown as EngineStats;
        // A container that stopped meanwhile answers with empty stats: leave it out.
        if (!stats.memory_stats?.usage && !stats.cpu_stats?.system_cpu_usage) return undefined;
        const sample: SampledContainer = {
          taskArn: info.Labels[LABELS.taskArn],
          name: info.Labels[LABELS.containerName] ?? info.Names[0]?.replace(/^\//, '') ?? '',
          runtimeId: info.Id,
          ...containerFigures(stats),
        };
        return sample;
      } catch (err) {
        this.logger.debug({ err, runtimeId: info.Id }, 'no stats for a container; skipped');
        return undefined;
      }
    });
    return buildUtilisationReport(
      this.settings,
      host,
      samples.filter((s): s is SampledContainer => s !== undefined),
      Date.now(),
    );
  }

  private async hostTotals(): Promise<HostTotals> {
    if (!this.host) {
      const info = (await this.docker.info()) as { MemTotal?: number; NCPU?: number };
      this.host = { memoryBytes: info.MemTotal ?? 0, onlineCpus: info.NCPU ?? 0 };
    }
    return this.host;
  }
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
