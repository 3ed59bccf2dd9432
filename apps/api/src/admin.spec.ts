import { of } from 'rxjs';
import type { stateV1 } from '@wharf/proto';
import { parseDurationSeconds, runAdmin } from './admin';

describe('wharf admin', () => {
  it('parses --expires-in durations', () => {
    expect(parseDurationSeconds('45s')).toBe(45);
    expect(parseDurationSeconds('90m')).toBe(5400);
    expect(parseDurationSeconds('24h')).toBe(86_400);
    expect(parseDurationSeconds('1d12h')).toBe(129_600);
    for (const bad of ['', '24', 'h', '1.5h', '-1h', '1w', '0s', '24 h']) {
      expect(() => parseDurationSeconds(bad)).toThrow(/--expires-in/);
    }
  });

  it('join-token create sends the cluster, expiry and description and prints the token', async () => {
    const requests: stateV1.CreateJoinTokenRequest[] = [];
    const state = {
      createJoinToken: (req: stateV1.CreateJoinTokenRequest) => {
        requests.push(req);
        return of({
          joinToken: 'wjt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
          token: {
            joinTokenId: 'aaaaaaaaaaaaaaaa',
            cluster: 'prod',
            description: 'rack 1',
            status: 'Active',
            createdAt: Date.UTC(2026, 0, 1),
            expiresAt: Date.UTC(2026, 0, 2),
            revokedAt: 0,
            lastUsedAt: 0,
          },
        });
      },
    } as unknown as stateV1.StateServiceClient;
    const lines: string[] = [];
    await runAdmin(
      [
        'join-token',
        'create',
        '--cluster',
        'prod',
        '--expires-in',
        '24h',
        '--description',
        'rack 1',
      ],
      state,
      (l) => lines.push(l),
    );
    expect(requests).toEqual([
      { cluster: 'prod', expiresInSeconds: 86_400, description: 'rack 1' },
    ]);
    expect(JSON.parse(lines[0])).toEqual({
      joinToken: 'wjt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      joinTokenId: 'aaaaaaaaaaaaaaaa',
      cluster: 'prod',
      description: 'rack 1',
      status: 'Active',
      createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-02T00:00:00.000Z',
      revokedAt: null,
      lastUsedAt: null,
    });

    lines.length = 0;
    await runAdmin(['join-token', 'create', '--format', 'env'], state, (l) => lines.push(l));
    expect(requests[1]).toEqual({ cluster: '', expiresInSeconds: 0, description: '' });
    expect(lines).toEqual([
      'WHARF_JOIN_TOKEN=wjt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    ]);
    await expect(
      runAdmin(['join-token', 'create', '--format', 'yaml'], state, () => undefined),
    ).rejects.toThrow(/--format must be json, env or token/);
    await expect(runAdmin(['join-token', 'revoke'], state, () => undefined)).rejects.toThrow(
      /revoke needs the join token id/,
    );
  });
});
