import { EcsApiError } from '../protocol/ecs-errors';
import { overridesJson, validateClientToken, validateStartedBy } from './launch-validation';

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return err as EcsApiError;
  }
  throw new Error('expected a refusal');
};

describe('RunTask/StartTask validation', () => {
  it('checks startedBy, clientToken and the size of overrides', () => {
    expect(validateStartedBy('s'.repeat(128))).toHaveLength(128);
    expect(refusal(() => validateStartedBy('s'.repeat(129))).type).toBe(
      'InvalidParameterException',
    );
    expect(validateClientToken('')).toBe('');
    expect(validateClientToken('~!token-64'.padEnd(64, 'x'))).toHaveLength(64);
    expect(refusal(() => validateClientToken('x'.repeat(65))).type).toBe(
      'InvalidParameterException',
    );
    expect(refusal(() => validateClientToken('with space')).type).toBe('InvalidParameterException');
    expect(overridesJson(undefined)).toBe('');
    const big = { containerOverrides: [{ name: 'a', command: ['x'.repeat(8200)] }] };
    expect(refusal(() => overridesJson(big)).message).toContain('8192');
  });
});
