import type { common, schedulerV1, stateV1 } from '@wharf/proto';
import { Observable, of } from 'rxjs';
import { EcsDispatcher } from '../ecs-dispatcher';
import { EcsApiError, toEcsError } from '../protocol/ecs-errors';
import { findViolation } from '../protocol/ecs-model';
import { ECS_MODEL } from '../protocol/ecs-model.generated';
import { toEcsCluster, toEcsContainerInstance, toEcsSetting } from '../protocol/shapes';
import { callerPrincipalArn } from './account-settings.operations';

const ACCOUNT = '000000000000';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const CLUSTER_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/blue`;

type Calls = Record<string, unknown[]>;

/** A state client recording each request by method, answering what `answers` say. */
function dispatcherWith(
  answers: Record<string, (req: unknown) => Observable<unknown>>,
  principal?: string,
) {
  const calls: Calls = {};
  const state = new Proxy(
    {},
    {
      get: (_t, method: string) => (req: unknown) => {
        (calls[method] ??= []).push(req);
        const answer = answers[method];
        if (!answer) throw new Error(`unexpected state call ${method}`);
        return answer(req);
      },
    },
  ) as stateV1.StateServiceClient;
  const dispatcher = new EcsDispatcher({
    state,
    scheduler: {} as schedulerV1.SchedulerServiceClient,
    arnContext: { region: 'us-east-1', accountId: ACCOUNT },
  });
  return {
    calls,
    dispatch: (operation: string, input: Record<string, unknown>) =>
      dispatcher.dispatch(operation, input, principal),
  };
}

async function ecsError(p: Promise<unknown>): Promise<EcsApiError> {
  try {
    await p;
  } catch (err) {
    // What the client is told (domain errors become ECS errors in the exception filter).
    const { error, internal } = toEcsError(err);
    if (internal) throw err;
    return error;
  }
  throw new Error('expected an ECS error');
}

const tagsAnswer = (req: unknown) =>
  of({
    resourceArn: (req as { resourceArn: string }).resourceArn,
    tagsJson: '[{"key":"a","value":"1"}]',
  });

const conformsOutput = (operation: string, value: unknown) =>
  expect(
    findViolation(ECS_MODEL, ECS_MODEL.operations[operation].output, value, '', { strict: true }),
  ).toBeUndefined();

describe('TagResource / UntagResource / ListTagsForResource', () => {
  const ok = () =>
    dispatcherWith({
      tagResource: tagsAnswer,
      untagResource: tagsAnswer,
      listTagsForResource: tagsAnswer,
    });

  it('passes checked, normalised tags to state and answers the empty output', async () => {
    const { calls, dispatch } = ok();
    const out = await dispatch('TagResource', {
      resourceArn: CLUSTER_ARN,
      tags: [{ key: 'team', value: 'a b' }, { key: 'empty' }],
    });
    expect(out).toEqual({});
    expect(calls.tagResource).toEqual([
      {
        resourceArn: CLUSTER_ARN,
        tagsJson: JSON.stringify([
          { key: 'team', value: 'a b' },
          { key: 'empty', value: '' },
        ]),
      },
    ]);
  });

  it.each([
    [[{ key: '' }], 'tags[0].key must have between 1 and 128 characters.'],
    [[{ key: 'k'.repeat(129) }], 'tags[0].key must have between 1 and 128 characters.'],
    [
      [{ key: 'ok' }, { key: 'aws:owner', value: 'x' }],
      'tags[1].key: the aws: prefix is reserved for AWS use.',
    ],
    [[{ key: 'AWS:Owner' }], 'tags[0].key: the aws: prefix is reserved for AWS use.'],
    [[{ key: 'k', value: 'v'.repeat(257) }], 'tags[0].value can have at most 256 characters.'],
    [
      [{ key: 'k#' }],
      'tags[0].key can only contain letters, numbers, spaces and the characters _ . : / = + - @.',
    ],
    [
      [{ key: 'k', value: 'a;b' }],
      'tags[0].value can only contain letters, numbers, spaces and the characters _ . : / = + - @.',
    ],
    [[{ key: 'k' }, { key: 'k' }], "tags[1].key: duplicate tag key 'k'."],
    [
      Array.from({ length: 51 }, (_, i) => ({ key: `k${i}` })),
      'tags can have at most 50 tags; got 51.',
    ],
  ])('refuses tags %j before state is called', async (tags, message) => {
    const { calls, dispatch } = ok();
    const err = await ecsError(dispatch('TagResource', { resourceArn: CLUSTER_ARN, tags }));
    expect(err.type).toBe('InvalidParameterException');
    expect(err.message).toBe(message);
    expect(calls.tagResource).toBeUndefined();
  });

  it('accepts the limits exactly: 128-character keys, 256-character values, Unicode letters', async () => {
    const { calls, dispatch } = ok();
    await dispatch('TagResource', {
      resourceArn: CLUSTER_ARN,
      tags: [{ key: 'é'.repeat(128), value: 'ü'.repeat(256) }, { key: 'a+b-c=d.e_f:g/h@i j' }],
    });
    expect(calls.tagResource).toHaveLength(1);
  });

  it('requires resourceArn and tags, as the model does', async () => {
    const { dispatch } = ok();
    expect((await ecsError(dispatch('TagResource', { tags: [] }))).message).toBe(
      'resourceArn is required',
    );
    expect((await ecsError(dispatch('TagResource', { resourceArn: CLUSTER_ARN }))).message).toBe(
      'tags is required',
    );
    expect((await ecsError(dispatch('UntagResource', { resourceArn: CLUSTER_ARN }))).message).toBe(
      'tagKeys is required',
    );
  });

  it('UntagResource checks each key, naming it', async () => {
    const { calls, dispatch } = ok();
    const err = await ecsError(
      dispatch('UntagResource', { resourceArn: CLUSTER_ARN, tagKeys: ['fine', 'aws:x'] }),
    );
    expect(err).toMatchObject({
      type: 'InvalidParameterException',
      message: 'tagKeys[1]: the aws: prefix is reserved for AWS use.',
    });
    await dispatch('UntagResource', { resourceArn: CLUSTER_ARN, tagKeys: ['a', 'b'] });
    expect(calls.untagResource).toEqual([{ resourceArn: CLUSTER_ARN, tagKeys: ['a', 'b'] }]);
  });

  it('ListTagsForResource answers the tags state keeps, in the model shape', async () => {
    const { dispatch } = ok();
    const out = await dispatch('ListTagsForResource', { resourceArn: CLUSTER_ARN });
    expect(out).toEqual({ tags: [{ key: 'a', value: '1' }] });
    conformsOutput('ListTagsForResource', out);
  });
});

describe('tags in Describe shapes', () => {
  const cluster: common.Cluster = {
    clusterArn: CLUSTER_ARN,
    clusterName: 'blue',
    status: 'ACTIVE',
    registeredContainerInstancesCount: 0,
    runningTasksCount: 0,
    pendingTasksCount: 0,
    activeServicesCount: 0,
    tagsJson: '[{"key":"team","value":"a"}]',
  } as common.Cluster;

  it('a cluster has tags only when asked for', () => {
    expect(toEcsCluster(cluster)).not.toHaveProperty('tags');
    expect(toEcsCluster(cluster, { includeTags: true }).tags).toEqual([
      { key: 'team', value: 'a' },
    ]);
  });

  it('a container instance has tags only when asked for', () => {
    const instance = {
      containerInstanceArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:container-instance/blue/abc`,
      clusterArn: CLUSTER_ARN,
      status: 'ACTIVE',
      attributes: [],
      tagsJson: '[{"key":"rack","value":"r1"}]',
    } as unknown as common.ContainerInstance;
    expect(toEcsContainerInstance(instance)).not.toHaveProperty('tags');
    expect(toEcsContainerInstance(instance, { includeTags: true }).tags).toEqual([
      { key: 'rack', value: 'r1' },
    ]);
  });

  it('DescribeClusters passes include TAGS through to the shape', async () => {
    const { dispatch } = dispatcherWith({
      describeClusters: () => of({ clusters: [cluster], failures: [] }),
    });
    const plain = (await dispatch('DescribeClusters', { clusters: ['blue'] })) as {
      clusters: Record<string, unknown>[];
    };
    expect(plain.clusters[0]).not.toHaveProperty('tags');
    const tagged = (await dispatch('DescribeClusters', {
      clusters: ['blue'],
      include: ['TAGS'],
    })) as {
      clusters: Record<string, unknown>[];
    };
    expect(tagged.clusters[0].tags).toEqual([{ key: 'team', value: 'a' }]);
  });
});

describe('account settings', () => {
  const setting = (req: unknown) => {
    const r = req as { name: string; value?: string; principalArn: string };
    return of({
      name: r.name,
      value: r.value ?? 'enabled',
      principalArn: r.principalArn || ROOT,
      type: 'user',
    });
  };
  const answers = {
    putAccountSetting: setting,
    deleteAccountSetting: setting,
    listAccountSettings: () =>
      of({
        settings: [{ name: 'awsvpcTrunking', value: 'disabled', principalArn: ROOT, type: 'user' }],
        nextToken: 'tok',
      }),
  };

  it('names the caller by its access key id, and the unknown caller as the root user', () => {
    const arnContext = { region: 'us-east-1', accountId: ACCOUNT };
    expect(callerPrincipalArn({ arnContext, principal: 'WKIAABCDEFGHIJKLMNOP' })).toBe(
      `arn:aws:iam::${ACCOUNT}:user/WKIAABCDEFGHIJKLMNOP`,
    );
    expect(callerPrincipalArn({ arnContext, principal: 'dev:AKIDEXAMPLE' })).toBe(
      `arn:aws:iam::${ACCOUNT}:user/AKIDEXAMPLE`,
    );
    expect(callerPrincipalArn({ arnContext, principal: 'dev:anonymous' })).toBe(ROOT);
    expect(callerPrincipalArn({ arnContext })).toBe(ROOT);
    expect(callerPrincipalArn({ arnContext, principal: 'dev:has space' })).toBe(ROOT);
  });

  it('PutAccountSetting sets the caller’s setting unless principalArn says whose', async () => {
    const { calls, dispatch } = dispatcherWith(answers, 'dev:AKIDEXAMPLE');
    const out = await dispatch('PutAccountSetting', {
      name: 'containerInsights',
      value: 'enhanced',
    });
    expect(out).toEqual({
      setting: {
        name: 'containerInsights',
        value: 'enhanced',
        principalArn: `arn:aws:iam::${ACCOUNT}:user/AKIDEXAMPLE`,
        type: 'user',
      },
    });
    conformsOutput('PutAccountSetting', out);
    await dispatch('PutAccountSetting', {
      name: 'awsvpcTrunking',
      value: 'enabled',
      principalArn: `arn:aws:iam::${ACCOUNT}:role/deployer`,
    });
    expect(calls.putAccountSetting).toEqual([
      {
        name: 'containerInsights',
        value: 'enhanced',
        principalArn: `arn:aws:iam::${ACCOUNT}:user/AKIDEXAMPLE`,
        accountDefault: false,
      },
      {
        name: 'awsvpcTrunking',
        value: 'enabled',
        principalArn: `arn:aws:iam::${ACCOUNT}:role/deployer`,
        accountDefault: false,
      },
    ]);
  });

  it('PutAccountSettingDefault sets the root user’s setting', async () => {
    const { calls, dispatch } = dispatcherWith(answers, 'dev:AKIDEXAMPLE');
    await dispatch('PutAccountSettingDefault', { name: 'fargateFIPSMode', value: 'enabled' });
    expect(calls.putAccountSetting).toEqual([
      { name: 'fargateFIPSMode', value: 'enabled', principalArn: ROOT, accountDefault: true },
    ]);
  });

  it.each([
    [
      'PutAccountSetting',
      { name: 'nope', value: 'enabled' },
      "1 validation error detected: Value 'nope' at 'name' failed to satisfy constraint: Member must satisfy enum value set",
    ],
    [
      'PutAccountSetting',
      { name: 'serviceLongArnFormat', value: 'on' },
      "value: 'on' is not valid for serviceLongArnFormat; expected one of [enabled, disabled].",
    ],
    [
      'PutAccountSetting',
      { name: 'tagResourceAuthorization', value: 'enabled' },
      "value: 'enabled' is not valid for tagResourceAuthorization; expected one of [on, off].",
    ],
    [
      'PutAccountSetting',
      { name: 'fargateTaskRetirementWaitPeriod', value: '7' },
      'principalArn: fargateTaskRetirementWaitPeriod can only be set for the root user (the account default).',
    ],
    [
      'PutAccountSettingDefault',
      { name: 'fargateTaskRetirementWaitPeriod', value: '3' },
      "value: '3' is not valid for fargateTaskRetirementWaitPeriod; expected one of [0, 7, 14].",
    ],
    [
      'PutAccountSetting',
      { name: 'fargateFIPSMode', value: 'enabled' },
      'name: fargateFIPSMode can only be set with PutAccountSettingDefault.',
    ],
    [
      'PutAccountSettingDefault',
      { name: 'guardDutyActivate', value: 'enabled' },
      'name: guardDutyActivate is read-only; it is managed by AWS (type aws_managed).',
    ],
    [
      'PutAccountSetting',
      {
        name: 'awsvpcTrunking',
        value: 'enabled',
        principalArn: 'arn:aws:iam::111111111111:user/x',
      },
      "principalArn: 'arn:aws:iam::111111111111:user/x' belongs to account 111111111111, not to this account (000000000000).",
    ],
    [
      'DeleteAccountSetting',
      { name: 'awsvpcTrunking', principalArn: 'bob' },
      "principalArn: 'bob' is not the ARN of a user, a role or the root user.",
    ],
    [
      'ListAccountSettings',
      { value: 'enabled' },
      'value: a value can only be given with a setting name.',
    ],
    ['ListAccountSettings', { maxResults: 11 }, 'maxResults must be between 1 and 10.'],
  ])('%s %j is InvalidParameterException', async (operation, input, message) => {
    const { calls, dispatch } = dispatcherWith(answers, 'dev:AKIDEXAMPLE');
    const err = await ecsError(dispatch(operation, input));
    expect(err.type).toBe('InvalidParameterException');
    expect(err.message.startsWith(message)).toBe(true);
    expect(calls).toEqual({});
  });

  it('ListAccountSettings maps filters and pages, answering the model shape', async () => {
    const { calls, dispatch } = dispatcherWith(answers, 'dev:AKIDEXAMPLE');
    const out = await dispatch('ListAccountSettings', {
      name: 'awsvpcTrunking',
      value: 'disabled',
      effectiveSettings: true,
      maxResults: 0,
      nextToken: 'abc',
    });
    expect(out).toEqual({
      settings: [{ name: 'awsvpcTrunking', value: 'disabled', principalArn: ROOT, type: 'user' }],
      nextToken: 'tok',
    });
    conformsOutput('ListAccountSettings', out);
    expect(calls.listAccountSettings).toEqual([
      {
        principalArn: `arn:aws:iam::${ACCOUNT}:user/AKIDEXAMPLE`,
        name: 'awsvpcTrunking',
        value: 'disabled',
        effectiveSettings: true,
        maxResults: 0,
        nextToken: 'abc',
      },
    ]);
  });

  it('a setting leaves empty members out', () => {
    expect(toEcsSetting({ name: 'n', value: 'v', principalArn: '', type: '' })).toEqual({
      name: 'n',
      value: 'v',
    });
  });
});
