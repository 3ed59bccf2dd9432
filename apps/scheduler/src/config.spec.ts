import { loadConfig } from '@wharf/config';
import { schedulerConfigSchema } from './config';

describe('scheduler config', () => {
  it('refuses a launch redelivery that would come before a launch call could end', () => {
    expect(() =>
      loadConfig(schedulerConfigSchema, {
        AGENT_CALL_TIMEOUT_MS: '10000',
        SCHEDULER_LAUNCH_REDELIVERY_MS: '5000',
      }),
    ).toThrow(
      'SCHEDULER_LAUNCH_REDELIVERY_MS ("5000"): must be longer than AGENT_CALL_TIMEOUT_MS (10000)',
    );
    expect(
      loadConfig(schedulerConfigSchema, { SCHEDULER_LAUNCH_REDELIVERY_MS: '10001' })
        .SCHEDULER_LAUNCH_REDELIVERY_MS,
    ).toBe(10_001);
  });
});
