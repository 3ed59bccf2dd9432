import {
  buildUtilisationReport,
  containerFigures,
  cpuPercent,
  EngineStats,
  memoryUsedBytes,
  sumFigures,
  ZERO_FIGURES,
} from './utilisation';

const cpu = (total: number, system: number, online = 2) => ({
  cpu_usage: { total_usage: total, percpu_usage: [0, 0] },
  system_cpu_usage: system,
  online_cpus: online,
});

describe('utilisation figures from engine stats', () => {
  it('computes CPU % like docker stats: cpu delta / system delta × online CPUs × 100', () => {
    expect(cpuPercent({ precpu_stats: cpu(1e9, 100e9), cpu_stats: cpu(1.5e9, 101e9) })).toBe(100);
    expect(cpuPercent({ precpu_stats: cpu(0, 10e9, 4), cpu_stats: cpu(0.5e9, 12e9, 4) })).toBe(100);
    // online_cpus missing: the per-CPU list's length.
    expect(
      cpuPercent({
        precpu_stats: cpu(0, 10e9),
        cpu_stats: {
          cpu_usage: { total_usage: 1e9, percpu_usage: [1, 1, 1, 1] },
          system_cpu_usage: 14e9,
        },
      }),
    ).toBe(100);
    // No previous sample (a one-shot read) or no progress: 0, not NaN.
    expect(cpuPercent({ cpu_stats: cpu(1e9, 1e9) })).toBe(0);
    expect(cpuPercent({ precpu_stats: cpu(1e9, 1e9), cpu_stats: cpu(1e9, 1e9) })).toBe(0);
    expect(cpuPercent({})).toBe(0);
  });

  it('takes the page cache out of memory: total_inactive_file (v1), inactive_file (v2)', () => {
    const v1: EngineStats = {
      memory_stats: {
        usage: 100,
        limit: 1000,
        stats: { total_inactive_file: 30, inactive_file: 10, cache: 50 },
      },
    };
    expect(memoryUsedBytes(v1)).toBe(70);
    expect(memoryUsedBytes({ memory_stats: { usage: 100, stats: { inactive_file: 40 } } })).toBe(
      60,
    );
    expect(memoryUsedBytes({ memory_stats: { usage: 100, stats: { inactive_file: 400 } } })).toBe(
      100,
    );
    expect(memoryUsedBytes({ memory_stats: { usage: 100 } })).toBe(100);
  });

  it('sums network interfaces and block I/O reads and writes (either case)', () => {
    const f = containerFigures({
      memory_stats: { usage: 10, limit: 64 },
      networks: { eth0: { rx_bytes: 5, tx_bytes: 7 }, eth1: { rx_bytes: 1, tx_bytes: 2 } },
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'Read', value: 100 },
          { op: 'Write', value: 200 },
          { op: 'Total', value: 300 },
          { op: 'read', value: 1 },
          { op: 'write', value: 2 },
        ],
      },
    });
    expect(f).toEqual({
      cpuPercent: 0,
      memoryUsedBytes: 10,
      memoryLimitBytes: 64,
      networkRxBytes: 6,
      networkTxBytes: 9,
      blockReadBytes: 101,
      blockWriteBytes: 202,
    });
    expect(containerFigures({ blkio_stats: { io_service_bytes_recursive: null } })).toEqual(
      ZERO_FIGURES,
    );
  });

  it('caps a summed memory limit at the host memory', () => {
    const big = { ...ZERO_FIGURES, memoryLimitBytes: 800 };
    expect(sumFigures([big, big], 1000).memoryLimitBytes).toBe(1000);
    expect(sumFigures([big, big]).memoryLimitBytes).toBe(1600);
  });

  it('groups containers by task and adds instance totals', () => {
    const c = (taskArn: string, name: string, cpuPercent: number, mem: number) => ({
      ...ZERO_FIGURES,
      taskArn,
      name,
      runtimeId: `${taskArn}-${name}`,
      cpuPercent,
      memoryUsedBytes: mem,
      memoryLimitBytes: 100,
    });
    const report = buildUtilisationReport(
      { clusterArn: 'cl', containerInstanceArn: 'ci' },
      { memoryBytes: 1000, onlineCpus: 2 },
      [c('t2', 'b', 10, 1), c('t1', 'x', 20.5, 2), c('t2', 'a', 30, 4)],
      42,
    );
    expect(report).toMatchObject({
      v: 1,
      clusterArn: 'cl',
      containerInstanceArn: 'ci',
      sentAt: 42,
    });
    expect(report.tasks.map((t) => [t.taskArn, t.cpuPercent, t.memoryUsedBytes])).toEqual([
      ['t1', 20.5, 2],
      ['t2', 40, 5],
    ]);
    expect(report.tasks[1].containers.map((x) => x.name)).toEqual(['a', 'b']);
    expect(report.tasks[1].memoryLimitBytes).toBe(200);
    expect(report.instance).toMatchObject({
      cpuPercent: 60.5,
      memoryUsedBytes: 7,
      memoryLimitBytes: 1000,
      onlineCpus: 2,
    });
  });
});
