import { requestHash } from './run-task.use-case';

const base = {
  cluster: '',
  taskDefinition: 'web',
  count: 2,
  group: '',
  startedBy: '',
  overridesJson: '',
  tagsJson: '',
  launchType: '',
};

describe('requestHash (clientToken idempotency)', () => {
  it('is the same for the same request, however the cluster is named', () => {
    expect(requestHash(base, 2)).toBe(requestHash({ ...base, cluster: 'default' }, 2));
    expect(requestHash(base, 2)).toBe(
      requestHash({ ...base, cluster: 'arn:aws:ecs:us-east-1:000000000000:cluster/default' }, 2),
    );
    expect(requestHash({ ...base, clientToken: 'a' }, 2)).toBe(
      requestHash({ ...base, clientToken: 'b' }, 2),
    );
  });

  it.each([
    ['count', { ...base, count: 3 }, 3],
    ['task definition', { ...base, taskDefinition: 'web:2' }, 2],
    ['tags', { ...base, tagsJson: '[{"key":"a","value":""}]' }, 2],
    ['overrides', { ...base, overridesJson: '{"containerOverrides":[]}' }, 2],
    ['strategy', { ...base, placementStrategyJson: '[{"type":"random"}]' }, 2],
  ])('differs when the %s differs', (_what, req, count) => {
    expect(requestHash(req, count)).not.toBe(requestHash(base, 2));
  });
});
