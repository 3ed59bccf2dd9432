import { InvalidParameterError } from './errors';
import { mergeTags, validateTagKeys, validateTagList } from './tags';

const refusal = (run: () => unknown): InvalidParameterError => {
  try {
    run();
  } catch (err) {
    return err as InvalidParameterError;
  }
  throw new Error('expected a refusal');
};

describe('resource tags (RunTask, StartTask, CreateService, TagResource, …)', () => {
  it('takes tags within the ECS limits and normalises a missing value', () => {
    expect(validateTagList([{ key: 'team', value: 'wharf' }, { key: 'k'.repeat(128) }])).toEqual([
      { key: 'team', value: 'wharf' },
      { key: 'k'.repeat(128), value: '' },
    ]);
    expect(validateTagList(undefined)).toEqual([]);
    expect(validateTagList(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}` })))).toHaveLength(
      50,
    );
    // Lengths count characters, not UTF-16 units.
    expect(validateTagList([{ key: 'ü'.repeat(128), value: 'ä'.repeat(256) }])).toHaveLength(1);
  });

  it.each([
    [Array.from({ length: 51 }, (_, i) => ({ key: `k${i}` })), 'at most 50'],
    [[{ key: '' }], 'tags[0].key must have between 1 and 128'],
    [[{ value: 'v' }], 'tags[0].key'],
    [[{ key: 'k'.repeat(129) }], 'tags[0].key'],
    [[{ key: 'k', value: 'v'.repeat(257) }], 'tags[0].value'],
    [[{ key: 'AWS:reserved' }], 'reserved'],
    [[{ key: 'a' }, { key: 'a' }], "tags[1].key: duplicate tag key 'a'"],
    [[{ key: 'semi;colon' }], 'can only contain'],
    [{ key: 'k' }, 'must be a list'],
    [['k'], 'tags[0] must be a tag'],
  ])('refuses tags %#, naming the member', (tags, message) => {
    const err = refusal(() => validateTagList(tags));
    expect(err).toBeInstanceOf(InvalidParameterError);
    expect(err.message).toContain(message);
  });

  it('checks keys to remove and merges added tags by key, within 50', () => {
    expect(validateTagKeys(['a', 'b'])).toEqual(['a', 'b']);
    expect(refusal(() => validateTagKeys(['aws:x'])).message).toContain('tagKeys[0]');
    expect(
      mergeTags(
        [
          { key: 'a', value: '1' },
          { key: 'b', value: '2' },
        ],
        [
          { key: 'b', value: '3' },
          { key: 'c', value: '4' },
        ],
      ),
    ).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '3' },
      { key: 'c', value: '4' },
    ]);
    const full = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: '' }));
    expect(refusal(() => mergeTags(full, [{ key: 'one-more', value: '' }])).message).toContain(
      'at most 50',
    );
  });
});
