import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@wharf/config';
import { grpcTlsChannelOptions, grpcTlsFromEnv } from './tls';

describe('grpcTlsFromEnv', () => {
  let dir: string;
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-tls-'));
    for (const f of ['ca.crt', 'svc.crt', 'svc.key']) writeFileSync(join(dir, f), pem);
    writeFileSync(join(dir, 'junk'), 'hello');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const all = () => ({
    GRPC_TLS_CA: join(dir, 'ca.crt'),
    GRPC_TLS_CERT: join(dir, 'svc.crt'),
    GRPC_TLS_KEY: join(dir, 'svc.key'),
  });

  it('is plaintext (null) without any of the variables', () => {
    expect(grpcTlsFromEnv({})).toBeNull();
    expect(grpcTlsFromEnv({ GRPC_TLS_CA: '  ' })).toBeNull();
  });

  it('reads the three files', () => {
    const tls = grpcTlsFromEnv(all());
    expect(tls?.ca.toString()).toBe(pem);
    expect(tls?.agentName).toBeUndefined();
    expect(grpcTlsChannelOptions(tls, 'agent')).toEqual({});
  });

  it('names the variables missing from a partial set', () => {
    const env = { ...all(), GRPC_TLS_KEY: '' };
    expect(() => grpcTlsFromEnv(env)).toThrow(ConfigError);
    expect(() => grpcTlsFromEnv(env)).toThrow(/GRPC_TLS_KEY \(unset\)/);
    expect(() => grpcTlsFromEnv({ GRPC_TLS_CERT: 'x' })).toThrow(/GRPC_TLS_CA, GRPC_TLS_KEY/);
  });

  it('names the variable whose file is missing or not PEM', () => {
    expect(() => grpcTlsFromEnv({ ...all(), GRPC_TLS_CA: join(dir, 'nope') })).toThrow(
      /GRPC_TLS_CA .*cannot read the file \(ENOENT\)/,
    );
    expect(() => grpcTlsFromEnv({ ...all(), GRPC_TLS_KEY: join(dir, 'junk') })).toThrow(
      /GRPC_TLS_KEY .*not a PEM file/,
    );
  });

  it('checks agents (only) against GRPC_TLS_AGENT_NAME, only alongside TLS', () => {
    const tls = grpcTlsFromEnv({ ...all(), GRPC_TLS_AGENT_NAME: 'agent' });
    expect(grpcTlsChannelOptions(tls, 'state')).toEqual({});
    expect(grpcTlsChannelOptions(tls, 'agent')).toEqual({
      'grpc.ssl_target_name_override': 'agent',
      'grpc.default_authority': 'agent',
    });
    expect(() => grpcTlsFromEnv({ GRPC_TLS_AGENT_NAME: 'agent' })).toThrow(/GRPC_TLS_AGENT_NAME/);
  });
});
