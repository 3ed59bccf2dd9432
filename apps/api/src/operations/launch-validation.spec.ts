import { EcsApiError } from '../protocol/ecs-errors';
import {
  overridesJson,
  validateClientToken,
  validateStartedBy,
  validateTags,
} from './launch-validation';

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return err as EcsApiError;
  }
  throw new Error('expected a refusal');
};

describe('RunTask/StartTask validation', () => {
  it('takes tags within the ECS limits and normalises a missing value', () => {
    expect(validateTags([{ key: 'team', value: 'wharf' }, { key: 'k'.repeat(128) }])).toEqual([
      { key: 'team', value: 'wharf' },
      { key: 'k'.repeat(128), value: '' },
    ]);
    expect(validateTags(undefined)).toEqual([]);
    expect(validateTags(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}` })))).toHaveLength(50);
  });

  it.each([
    [Array.from({ length: 51 }, (_, i) => ({ key: `k${i}` })), 'at most 50'],
    [[{ key: '' }], 'key'],
    [[{ value: 'v' }], 'key'],
    [[{ key: 'k'.repeat(129) }], 'key'],
    [[{ key: 'k', value: 'v'.repeat(257) }], 'value'],
    [[{ key: 'AWS:reserved' }], 'reserved'],
    [[{ key: 'a' }, { key: 'a' }], 'Duplicate'],
  ])('refuses tags %#', (tags, message) => {
    const err = refusal(() => validateTags(tags));
    expect(err).toBeInstanceOf(EcsApiError);
    expect(err.type).toBe('InvalidParameterException');
    expect(err.message).toContain(message);
  });

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
