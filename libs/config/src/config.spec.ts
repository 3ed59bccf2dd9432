import { ConfigError, commonEnv, env, loadConfig, z } from './index';

describe('loadConfig', () => {
  const schema = z.object({ ...commonEnv, PORT: env.port(4700), DEBUG: env.bool(false) });

  it('fills defaults and coerces types', () => {
    const cfg = loadConfig(schema, { PORT: '8080', DEBUG: 'yes' });
    expect(cfg.PORT).toBe(8080);
    expect(cfg.DEBUG).toBe(true);
    expect(cfg.WHARF_REGION).toBe('us-east-1');
    expect(cfg.WHARF_ACCOUNT_ID).toBe('000000000000');
  });

  it('names the bad variable and its value', () => {
    expect(() => loadConfig(schema, { PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { PORT: '70000' })).toThrow(
      /PORT \("70000"\): must be a port number 0-65535/,
    );
    expect(() => loadConfig(schema, { WHARF_ACCOUNT_ID: '12' })).toThrow(
      /WHARF_ACCOUNT_ID \("12"\): must be a 12-digit account id/,
    );
  });
});
