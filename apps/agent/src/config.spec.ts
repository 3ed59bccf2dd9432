import { ConfigError, loadConfig } from '@wharf/config';
import { newJoinToken } from '@wharf/domain';
import { agentConfigSchema } from './config';

describe('agent config: WHARF_JOIN_TOKEN', () => {
  it('is optional (for state in open mode)', () => {
    expect(loadConfig(agentConfigSchema, {}).WHARF_JOIN_TOKEN).toBeUndefined();
    expect(
      loadConfig(agentConfigSchema, { WHARF_JOIN_TOKEN: ' ' }).WHARF_JOIN_TOKEN,
    ).toBeUndefined();
  });

  it('takes a token, trimmed', () => {
    const { token } = newJoinToken();
    expect(loadConfig(agentConfigSchema, { WHARF_JOIN_TOKEN: `${token}\n` }).WHARF_JOIN_TOKEN).toBe(
      token,
    );
  });

  it('refuses a malformed token, naming the variable and never showing the value', () => {
    const bad = `${newJoinToken().token}x`;
    let err: unknown;
    try {
      loadConfig(agentConfigSchema, { WHARF_JOIN_TOKEN: bad });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/WHARF_JOIN_TOKEN \(hidden\): is not a join token/);
    expect((err as Error).message).not.toContain(bad);
  });
});
