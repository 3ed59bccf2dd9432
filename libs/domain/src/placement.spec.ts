import { NO_CONTAINER_INSTANCES, planPlacement, PlacementInstance } from './placement';

const inst = (arn: string, cpu: number, memory: number, more: Partial<PlacementInstance> = {}) => ({
  arn,
  status: 'ACTIVE',
  agentConnected: true,
  remaining: { cpu, memory, ports: [22], portsUdp: [] },
  ...more,
});
const claim = (cpu: number, memory: number, ports: number[] = []) => ({
  cpu,
  memory,
  ports,
  portsUdp: [],
});

describe('planPlacement', () => {
  it('places first fit and applies each claim before the next', () => {
    const plan = planPlacement(
      [inst('a', 1024, 1000), inst('b', 1024, 1000)],
      [claim(512, 600), claim(512, 600), claim(512, 300)],
    );
    expect(plan).toEqual({
      kind: 'plan',
      placements: [
        { placed: true, instanceArn: 'a' },
        { placed: true, instanceArn: 'b' },
        { placed: true, instanceArn: 'a' },
      ],
    });
  });

  it('reports the reason of the instance that came closest', () => {
    const plan = planPlacement(
      [
        inst('cpu-short', 10, 5000),
        inst('ports-taken', 1024, 5000, {
          remaining: { cpu: 1024, memory: 5000, ports: [80], portsUdp: [] },
        }),
        inst('mem-short', 1024, 10),
      ],
      [claim(100, 100, [80])],
    );
    expect(plan).toEqual({
      kind: 'plan',
      placements: [{ placed: false, instanceArn: 'ports-taken', reason: 'RESOURCE:PORTS' }],
    });
  });

  it('fails a second task on the same static port', () => {
    const plan = planPlacement([inst('a', 4096, 4096)], [claim(1, 1, [80]), claim(1, 1, [80])]);
    expect(plan.kind === 'plan' && plan.placements[1]).toEqual({
      placed: false,
      instanceArn: 'a',
      reason: 'RESOURCE:PORTS',
    });
  });

  it('skips disconnected agents and DRAINING instances', () => {
    const plan = planPlacement(
      [
        inst('draining', 4096, 4096, { status: 'DRAINING' }),
        inst('gone', 4096, 4096, { agentConnected: false }),
      ],
      [claim(1, 1)],
    );
    expect(plan).toEqual({
      kind: 'plan',
      placements: [{ placed: false, instanceArn: 'gone', reason: 'AGENT' }],
    });
  });

  it('reports no instances when the cluster has no ACTIVE one', () => {
    expect(planPlacement([], [claim(1, 1)])).toEqual({ kind: 'no-instances' });
    expect(planPlacement([inst('d', 1, 1, { status: 'DRAINING' })], [claim(1, 1)])).toEqual({
      kind: 'no-instances',
    });
    expect(NO_CONTAINER_INSTANCES).toBe('No Container Instances were found in your cluster.');
  });

  it('does not modify the snapshot', () => {
    const instances = [inst('a', 1024, 1024)];
    planPlacement(instances, [claim(512, 512, [80])]);
    expect(instances[0].remaining).toEqual({ cpu: 1024, memory: 1024, ports: [22], portsUdp: [] });
  });
});
