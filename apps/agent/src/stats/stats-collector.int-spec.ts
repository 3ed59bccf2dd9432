import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import pino from 'pino';
import { eventually, IMAGES } from '@wharf/testing';
import { LABELS } from '../engine/labels';
import { StatsCollector } from './stats-collector';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const docker = new Docker();
const run = promisify(execFile);

/** `docker stats` (the CLI) for one container: what the engine's own client shows. */
async function dockerStats(id: string): Promise<{ cpuPercent: number; memUsedBytes: number }> {
  const { stdout } = await run('docker', ['stats', '--no-stream', '--format', '{{json .}}', id]);
  const s = JSON.parse(stdout) as { CPUPerc: string; MemUsage: string };
  const [used] = s.MemUsage.split('/').map((x) => x.trim());
  const m = /^([\d.]+)\s*([KMGT]?i?B)$/.exec(used);
  const unit: Record<string, number> = { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB };
  return {
    cpuPercent: parseFloat(s.CPUPerc),
    memUsedBytes: m ? Number(m[1]) * (unit[m[2]] ?? 1) : Number.NaN,
  };
}

describe('StatsCollector against the local Docker engine', () => {
  const suffix = randomBytes(4).toString('hex');
  const instanceArn = `arn:aws:ecs:us-east-1:000000000000:container-instance/stats/${suffix}`;
  const taskArn = `arn:aws:ecs:us-east-1:000000000000:task/stats/${suffix}aaaa`;
  const otherTaskArn = `arn:aws:ecs:us-east-1:000000000000:task/stats/${suffix}bbbb`;
  const created: Docker.Container[] = [];

  async function startContainer(
    name: string,
    cmd: string,
    labels: Record<string, string>,
    hostConfig: Docker.HostConfig,
  ): Promise<Docker.Container> {
    const c = await docker.createContainer({
      name: `wharf-stats-test-${name}-${suffix}`,
      Image: IMAGES.workload,
      Cmd: ['sh', '-c', cmd],
      Labels: labels,
      HostConfig: hostConfig,
    });
    created.push(c);
    await c.start();
    return c;
  }

  const labels = (task: string, container: string, instance = instanceArn) => ({
    [LABELS.taskArn]: task,
    [LABELS.containerName]: container,
    [LABELS.containerInstanceArn]: instance,
  });

  afterAll(async () => {
    await Promise.all(created.map((c) => c.remove({ force: true }).catch(() => undefined)));
  });

  it('reports CPU of a busy loop, memory held in tmpfs, limits, and only this instance’s Wharf containers', async () => {
    const busy = await startContainer('busy', 'while :; do :; done', labels(taskArn, 'busy'), {
      CpuShares: 2048, // twice the default weight: a busy machine still gives it its CPU
      Memory: 64 * MiB,
    });
    const hog = await startContainer(
      'hog',
      'dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null; sleep 3600',
      labels(taskArn, 'hog'),
      { Memory: 128 * MiB },
    );
    await startContainer('other', 'sleep 3600', labels(otherTaskArn, 'app'), {
      Memory: 32 * MiB,
    });
    await startContainer('foreign', 'sleep 3600', labels(taskArn, 'x', `${instanceArn}-other`), {});
    await startContainer('plain', 'sleep 3600', {}, {});

    // The 48 MiB are written once dd finished.
    await eventually(
      async () => ((await dockerStats(hog.id)).memUsedBytes >= 48 * MiB ? true : undefined),
      'the hog holds 48 MiB',
    );

    const collector = new StatsCollector(
      docker,
      {
        clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/stats',
        containerInstanceArn: instanceArn,
      },
      logger,
    );
    const [report, engineBusy, engineHog] = await Promise.all([
      collector.collect(),
      dockerStats(busy.id),
      dockerStats(hog.id),
    ]);

    expect(report.containerInstanceArn).toBe(instanceArn);
    expect(report.tasks.map((t) => t.taskArn)).toEqual([taskArn, otherTaskArn].sort());
    const task = report.tasks.find((t) => t.taskArn === taskArn)!;
    expect(task.containers.map((c) => c.name)).toEqual(['busy', 'hog']);
    const [busyFigures, hogFigures] = task.containers;
    expect(busyFigures.runtimeId).toBe(busy.id);

    // CPU: the busy loop burns CPU (how much depends on what else the machine runs: about one
    // CPU when idle), clearly more than the idle container, and docker stats sees the same.
    expect(busyFigures.cpuPercent).toBeGreaterThan(10);
    expect(engineBusy.cpuPercent).toBeGreaterThan(10);
    expect(busyFigures.cpuPercent).toBeGreaterThan(hogFigures.cpuPercent + 5);
    expect(Math.abs(busyFigures.cpuPercent - engineBusy.cpuPercent)).toBeLessThan(40);

    // Memory: the configured limits, and what is held (page cache excluded) as docker stats shows it.
    expect(busyFigures.memoryLimitBytes).toBe(64 * MiB);
    expect(hogFigures.memoryLimitBytes).toBe(128 * MiB);
    expect(hogFigures.memoryUsedBytes).toBeGreaterThanOrEqual(48 * MiB);
    expect(hogFigures.memoryUsedBytes).toBeLessThan(60 * MiB);
    expect(Math.abs(hogFigures.memoryUsedBytes - engineHog.memUsedBytes)).toBeLessThan(2 * MiB);

    // Bridge networking: counters exist (≥ 0); the task sums its containers.
    expect(task.networkRxBytes).toBe(busyFigures.networkRxBytes + hogFigures.networkRxBytes);
    expect(task.cpuPercent).toBeCloseTo(busyFigures.cpuPercent + hogFigures.cpuPercent, 1);
    expect(task.memoryUsedBytes).toBe(busyFigures.memoryUsedBytes + hogFigures.memoryUsedBytes);
    expect(task.memoryLimitBytes).toBe(192 * MiB);

    // The instance: the tasks' sums, with the host's memory and CPUs.
    const info = (await docker.info()) as { MemTotal: number; NCPU: number };
    expect(report.instance.memoryLimitBytes).toBe(info.MemTotal);
    expect(report.instance.onlineCpus).toBe(info.NCPU);
    expect(report.instance.memoryUsedBytes).toBe(
      report.tasks.reduce((n, t) => n + t.memoryUsedBytes, 0),
    );
  });
});
