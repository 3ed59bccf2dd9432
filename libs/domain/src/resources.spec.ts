import {
  parseCpu,
  parseMemory,
  releaseClaim,
  shortfall,
  subtractClaim,
  taskClaim,
} from './resources';

const instance = { cpu: 1024, memory: 2048, ports: [22], portsUdp: [] as number[] };

describe('taskClaim', () => {
  it('sums containers, preferring memoryReservation over memory', () => {
    const claim = taskClaim({
      containerDefinitions: [
        { name: 'a', cpu: 100, memory: 512, memoryReservation: 128 },
        { name: 'b', cpu: 50, memory: 256 },
      ],
    });
    expect(claim).toEqual({ cpu: 150, memory: 384, ports: [], portsUdp: [] });
  });

  it('uses task-level cpu and memory when set', () => {
    const claim = taskClaim({
      cpu: '0.5 vcpu',
      memory: '1 GB',
      containerDefinitions: [{ name: 'a', cpu: 10, memory: 10 }],
    });
    expect(claim).toMatchObject({ cpu: 512, memory: 1024 });
  });

  it('reserves static host ports per protocol and skips dynamic ones', () => {
    const claim = taskClaim({
      containerDefinitions: [
        {
          name: 'a',
          memory: 1,
          portMappings: [
            { containerPort: 80, hostPort: 8080 },
            { containerPort: 81, hostPort: 0 },
            { containerPort: 82 },
            { containerPort: 53, hostPort: 53, protocol: 'udp' },
          ],
        },
      ],
    });
    expect(claim.ports).toEqual([8080]);
    expect(claim.portsUdp).toEqual([53]);
  });

  it('in host mode the container port is the host port', () => {
    const claim = taskClaim({
      networkMode: 'host',
      containerDefinitions: [{ name: 'a', memory: 1, portMappings: [{ containerPort: 80 }] }],
    });
    expect(claim.ports).toEqual([80]);
  });

  it('applies container overrides', () => {
    const claim = taskClaim({ containerDefinitions: [{ name: 'a', cpu: 10, memory: 100 }] }, [
      { name: 'a', cpu: 20, memory: 200 },
      { name: 'other', cpu: 1000 },
    ]);
    expect(claim).toMatchObject({ cpu: 20, memory: 200 });
  });
});

describe('parseCpu / parseMemory', () => {
  it.each([
    ['1024', 1024],
    ['1 vcpu', 1024],
    ['0.25 vCPU', 256],
    ['abc', NaN],
    ['', NaN],
  ])('parseCpu(%s)', (v, n) => expect(parseCpu(v)).toBe(n));
  it.each([
    ['512', 512],
    ['1 GB', 1024],
    ['0.5gb', 512],
    ['1 TB', NaN],
  ])('parseMemory(%s)', (v, n) => expect(parseMemory(v)).toBe(n));
});

describe('shortfall', () => {
  const claim = { cpu: 100, memory: 100, ports: [80], portsUdp: [] };
  it('is undefined when the claim fits', () => expect(shortfall(instance, claim)).toBeUndefined());
  it('checks CPU, then MEMORY, then PORTS, then PORTS_UDP', () => {
    expect(shortfall({ ...instance, cpu: 99, memory: 0 }, claim)).toBe('RESOURCE:CPU');
    expect(shortfall({ ...instance, memory: 99 }, claim)).toBe('RESOURCE:MEMORY');
    expect(shortfall({ ...instance, ports: [80] }, claim)).toBe('RESOURCE:PORTS');
    expect(shortfall(instance, { ...claim, ports: [81, 81] })).toBe('RESOURCE:PORTS');
    expect(shortfall({ ...instance, portsUdp: [53] }, { ...claim, portsUdp: [53] })).toBe(
      'RESOURCE:PORTS_UDP',
    );
  });
  it('a claim of exactly what remains fits', () => {
    expect(
      shortfall(instance, { cpu: 1024, memory: 2048, ports: [], portsUdp: [] }),
    ).toBeUndefined();
  });
});

describe('subtractClaim / releaseClaim', () => {
  const claim = { cpu: 100, memory: 200, ports: [8080, 22], portsUdp: [53] };
  it('round-trips, keeping reserved ports taken', () => {
    const after = subtractClaim(instance, { ...claim, ports: [8080] });
    expect(after).toEqual({ cpu: 924, memory: 1848, ports: [22, 8080], portsUdp: [53] });
    const back = releaseClaim(after, claim, instance);
    expect(back).toEqual(instance);
  });
  it('never releases above what is registered', () => {
    expect(releaseClaim(instance, claim, instance)).toMatchObject({ cpu: 1024, memory: 2048 });
  });
  it('does not modify its inputs', () => {
    const copy = structuredClone(instance);
    subtractClaim(instance, claim);
    expect(instance).toEqual(copy);
  });
});
