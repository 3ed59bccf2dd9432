import { AttributeLimitExceededError, InvalidParameterError } from '@wharf/domain';
import { checkTargetAttributes, deleteCustom, mergeAttributes, putCustom } from './attributes';

const ARN = 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/abc123';
const attr = (
  over: Partial<{ name: string; value: string; targetType: string; targetId: string }>,
) => ({
  name: 'stack',
  value: 'prod',
  targetType: '',
  targetId: ARN,
  ...over,
});

describe('checkTargetAttributes', () => {
  it('resolves ARNs and short ids (with targetType) to instance ids', () => {
    const checked = checkTargetAttributes(
      [attr({}), attr({ targetId: 'def456', targetType: 'container-instance' })],
      { withValues: true },
    );
    expect(checked.map((c) => c.instanceId)).toEqual(['abc123', 'def456']);
  });

  it.each([
    [[], 'cannot be empty'],
    [Array.from({ length: 11 }, () => attr({})), 'up to 10 attributes'],
    [[attr({ name: '' })], 'name'],
    [[attr({ name: 'a'.repeat(129) })], 'name'],
    [[attr({ name: 'bad name' })], 'name'],
    [[attr({ value: 'v'.repeat(129) })], 'value'],
    [[attr({ value: ' lead' })], 'value'],
    [[attr({ value: 'semi;colon' })], 'value'],
    [[attr({ targetId: '' })], 'targetId'],
    [[attr({ targetId: 'abc123' })], 'targetType is required'],
    [[attr({ targetType: 'task' })], 'targetType'],
    [
      [attr({ targetId: 'arn:aws:ecs:us-east-1:000000000000:task/default/abc' })],
      'not a container instance',
    ],
  ])('refuses %j', (attributes, message) => {
    expect(() => checkTargetAttributes(attributes, { withValues: true })).toThrow(
      InvalidParameterError,
    );
    expect(() => checkTargetAttributes(attributes, { withValues: true })).toThrow(message);
  });

  it('accepts every character ECS allows, and no value', () => {
    expect(() =>
      checkTargetAttributes(
        [
          attr({ name: 'ecs.os-type/x_y\\z', value: 'a-b_c.d@e/f\\g:h i' }),
          attr({ name: 'flag', value: '' }),
        ],
        { withValues: true },
      ),
    ).not.toThrow();
  });

  it('ignores values when deleting', () => {
    expect(() =>
      checkTargetAttributes([attr({ value: ' not checked ' })], { withValues: false }),
    ).not.toThrow();
  });
});

describe('custom attributes', () => {
  it('puts by name, refuses an eleventh, deletes by name', () => {
    const ten = Array.from({ length: 10 }, (_, i) => ({ name: `a${i}`, value: 'x' }));
    const replaced = putCustom(ten, [{ name: 'a3', value: 'y' }], ARN);
    expect(replaced).toHaveLength(10);
    expect(replaced.find((a) => a.name === 'a3')?.value).toBe('y');
    expect(() => putCustom(ten, [{ name: 'b', value: 'x' }], ARN)).toThrow(
      AttributeLimitExceededError,
    );
    expect(deleteCustom(ten, ['a0', 'missing']).map((a) => a.name)).not.toContain('a0');
  });

  it('lays custom attributes over the agent ones by name', () => {
    expect(
      mergeAttributes(
        [
          { name: 'ecs.os-type', value: 'linux' },
          { name: 'stack', value: 'agent' },
        ],
        [
          { name: 'stack', value: 'api' },
          { name: 'team', value: 'blue' },
        ],
      ),
    ).toEqual([
      { name: 'ecs.os-type', value: 'linux' },
      { name: 'stack', value: 'api' },
      { name: 'team', value: 'blue' },
    ]);
  });
});
