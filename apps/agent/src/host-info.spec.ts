import { agentConfigSchema } from './config';
import { loadConfig, ConfigError } from '@wharf/config';
import {
  cpuArchitecture,
  defaultHostAddress,
  hostResources,
  instanceAttributes,
} from './host-info';

describe('agent config', () => {
  it('has defaults', () => {
    const c = loadConfig(agentConfigSchema, {});
    expect(c.STATE_URL).toBe('127.0.0.1:4701');
    expect(c.AGENT_GRPC_PORT).toBe(4703);
    expect(c.AGENT_RESERVED_PORTS).toEqual([22, 2375, 2376, 51678, 51679]);
    expect(c.AGENT_ATTRIBUTES).toEqual([]);
    expect(c.AGENT_STOP_TIMEOUT_S).toBe(30);
  });
  it('parses attributes and names a bad variable', () => {
    const c = loadConfig(agentConfigSchema, { AGENT_ATTRIBUTES: 'ecs.availability-zone=az1, gpu' });
    expect(c.AGENT_ATTRIBUTES).toEqual([
      { name: 'ecs.availability-zone', value: 'az1' },
      { name: 'gpu', value: '' },
    ]);
    expect(() => loadConfig(agentConfigSchema, { AGENT_CPU: 'lots' })).toThrow(/AGENT_CPU/);
    expect(() => loadConfig(agentConfigSchema, { STATE_URL: 'http://x' })).toThrow(ConfigError);
    expect(() => loadConfig(agentConfigSchema, { AGENT_RESERVED_PORTS: '22,x' })).toThrow(
      /AGENT_RESERVED_PORTS/,
    );
  });
});

describe('host info', () => {
  it('reads resources from the host unless configured', () => {
    const host = { cpus: 2, totalMemBytes: 4096 * 1024 * 1024 };
    const base = { AGENT_RESERVED_MEMORY: 256, AGENT_RESERVED_PORTS: [22] };
    expect(hostResources({ ...base, AGENT_CPU: undefined, AGENT_MEMORY: undefined }, host)).toEqual(
      { cpu: 2048, memory: 3840, ports: [22], portsUdp: [] },
    );
    expect(hostResources({ ...base, AGENT_CPU: 512, AGENT_MEMORY: 1000 }, host)).toMatchObject({
      cpu: 512,
      memory: 1000,
    });
  });
  it('has ECS-style attributes that configuration can override', () => {
    const attrs = instanceAttributes([{ name: 'ecs.os-type', value: 'custom' }], 'x86_64');
    expect(attrs).toContainEqual({ name: 'ecs.os-type', value: 'custom' });
    expect(attrs).toContainEqual({ name: 'ecs.cpu-architecture', value: 'x86_64' });
    expect(cpuArchitecture('x64')).toBe('x86_64');
  });
  it('picks the first external IPv4', () => {
    expect(
      defaultHostAddress({
        lo: [{ family: 'IPv4', internal: true, address: '127.0.0.1' } as never],
        eth0: [
          { family: 'IPv6', internal: false, address: 'fe80::1' } as never,
          { family: 'IPv4', internal: false, address: '10.0.0.5' } as never,
        ],
      }),
    ).toBe('10.0.0.5');
  });
});
