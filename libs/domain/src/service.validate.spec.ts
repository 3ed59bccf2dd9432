import { GrpcCode, InvalidParameterError, UnsupportedFeatureError } from './errors';
import {
  parseServiceJson,
  ServiceSpecInput,
  validateDeploymentConfiguration,
  validateServiceSpec,
} from './service.validate';

const replica = (over: Partial<ServiceSpecInput> = {}): ServiceSpecInput => ({
  serviceName: 'web',
  desiredCount: 2,
  ...over,
});
const lb = {
  targetGroupArn: 'arn:aws:elasticloadbalancing:tg/web',
  containerName: 'web',
  containerPort: 80,
};

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

function invalid(fn: () => unknown, message: RegExp | string): void {
  const err = errorOf(fn);
  expect(err).toBeInstanceOf(InvalidParameterError);
  expect(err.message).toMatch(message);
}

describe('validateServiceSpec', () => {
  it('fills the REPLICA defaults', () => {
    expect(validateServiceSpec(replica())).toEqual({
      serviceName: 'web',
      schedulingStrategy: 'REPLICA',
      launchType: 'EC2',
      desiredCount: 2,
      deploymentConfiguration: {
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        deploymentCircuitBreaker: { enable: false, rollback: false },
      },
      placementConstraints: [],
      placementStrategy: [],
      loadBalancers: [],
      tags: [],
      healthCheckGracePeriodSeconds: 0,
    });
  });

  it('fills the DAEMON defaults and stores desired 0', () => {
    const spec = validateServiceSpec({ serviceName: 'agent', schedulingStrategy: 'DAEMON' });
    expect(spec.desiredCount).toBe(0);
    expect(spec.deploymentConfiguration).toEqual({
      maximumPercent: 100,
      minimumHealthyPercent: 0,
      deploymentCircuitBreaker: { enable: false, rollback: false },
    });
  });

  it('checks the service name', () => {
    for (const serviceName of ['', 'has space', 'a'.repeat(256), 'dot.ted']) {
      invalid(() => validateServiceSpec(replica({ serviceName })), /^serviceName /);
    }
    expect(validateServiceSpec(replica({ serviceName: 'A_b-9' })).serviceName).toBe('A_b-9');
  });

  it('checks the scheduling strategy and desired count', () => {
    invalid(
      () => validateServiceSpec(replica({ schedulingStrategy: 'BATCH' })),
      /schedulingStrategy/,
    );
    invalid(
      () => validateServiceSpec(replica({ desiredCount: undefined })),
      /desiredCount is required/,
    );
    invalid(() => validateServiceSpec(replica({ desiredCount: -1 })), /desiredCount must be/);
    invalid(() => validateServiceSpec(replica({ desiredCount: 1.5 })), /desiredCount must be/);
    invalid(
      () =>
        validateServiceSpec({ serviceName: 'd', schedulingStrategy: 'DAEMON', desiredCount: 1 }),
      /desiredCount is not valid .* DAEMON/,
    );
    invalid(
      () => validateServiceSpec(replica({ desiredCount: 5001 })),
      /desiredCount 5001 is more than the 5000 tasks a service can have/,
    );
    expect(validateServiceSpec(replica({ desiredCount: 5000 })).desiredCount).toBe(5000);
    expect(validateServiceSpec(replica({ desiredCount: 0 })).desiredCount).toBe(0);
  });

  it('refuses Fargate and external launch types as unsupported, and unknown ones as invalid', () => {
    for (const launchType of ['FARGATE', 'EXTERNAL']) {
      const err = errorOf(() => validateServiceSpec(replica({ launchType })));
      expect(err).toBeInstanceOf(UnsupportedFeatureError);
      expect((err as UnsupportedFeatureError).grpcCode).toBe(GrpcCode.UNIMPLEMENTED);
      expect(err.message).toMatch(new RegExp(`launchType ${launchType} is not supported`));
    }
    invalid(() => validateServiceSpec(replica({ launchType: 'MOON' })), /launchType must be/);
  });

  it('checks deployment configuration ranges and keeps given values', () => {
    const dc = (deploymentConfiguration: unknown, over: Partial<ServiceSpecInput> = {}) =>
      validateServiceSpec(replica({ deploymentConfiguration, ...over })).deploymentConfiguration;
    expect(
      dc({
        maximumPercent: 150,
        minimumHealthyPercent: 50,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      }),
    ).toEqual({
      maximumPercent: 150,
      minimumHealthyPercent: 50,
      deploymentCircuitBreaker: { enable: true, rollback: true },
    });
    invalid(
      () => dc({ minimumHealthyPercent: 101 }),
      /minimumHealthyPercent must be between 0 and 100/,
    );
    invalid(
      () => dc({ minimumHealthyPercent: -1 }),
      /minimumHealthyPercent must be a non-negative/,
    );
    invalid(
      () => dc({ maximumPercent: 99, minimumHealthyPercent: 0 }),
      /maximumPercent must be greater than or equal to 100/,
    );
    invalid(() => dc({ maximumPercent: 'x' }), /maximumPercent must be a non-negative integer/);
    invalid(
      () => dc({ deploymentCircuitBreaker: { enable: 'yes' } }),
      /deploymentCircuitBreaker.enable must be a boolean/,
    );
    invalid(() => dc([]), /deploymentConfiguration must be an object/);
    invalid(
      () =>
        validateServiceSpec({
          serviceName: 'd',
          schedulingStrategy: 'DAEMON',
          deploymentConfiguration: { maximumPercent: 200 },
        }),
      /maximumPercent must be 100 for the DAEMON/,
    );
  });

  it('refuses a configuration that could never replace a task', () => {
    invalid(
      () =>
        validateDeploymentConfiguration(
          { maximumPercent: 100, minimumHealthyPercent: 100 },
          'REPLICA',
          3,
        ),
      /no task of the 3 desired can be replaced/,
    );
    // 150% of 1 is 1 task, 100% of 1 is 1: no room either.
    invalid(
      () => validateDeploymentConfiguration({ maximumPercent: 150 }, 'REPLICA', 1),
      /no task of the 1 desired/,
    );
    expect(
      validateDeploymentConfiguration(
        { maximumPercent: 100, minimumHealthyPercent: 50 },
        'REPLICA',
        2,
      ).maximumPercent,
    ).toBe(100);
    // No tasks, nothing to replace.
    expect(
      validateDeploymentConfiguration({ maximumPercent: 100 }, 'REPLICA', 0).minimumHealthyPercent,
    ).toBe(100);
  });

  it('compiles placement constraints and strategies like RunTask and limits their number', () => {
    const spec = validateServiceSpec(
      replica({
        placementConstraints: [
          { type: 'distinctInstance' },
          { type: 'memberOf', expression: 'attribute:ecs.os-type == linux' },
        ],
        placementStrategy: [
          { type: 'spread', field: 'attribute:ecs.availability-zone' },
          { type: 'binpack', field: 'memory' },
        ],
      }),
    );
    expect(spec.placementConstraints).toHaveLength(2);
    expect(spec.placementStrategy).toEqual([
      { type: 'spread', field: 'attribute:ecs.availability-zone' },
      { type: 'binpack', field: 'memory' },
    ]);
    invalid(
      () =>
        validateServiceSpec(
          replica({ placementConstraints: [{ type: 'memberOf', expression: 'attribute:x ==' }] }),
        ),
      /memberOf expression/,
    );
    invalid(
      () => validateServiceSpec(replica({ placementConstraints: [{ type: 'memberOf' }] })),
      /memberOf requires an expression/,
    );
    invalid(
      () =>
        validateServiceSpec(replica({ placementStrategy: [{ type: 'binpack', field: 'disk' }] })),
      /binpack field/,
    );
    invalid(
      () =>
        validateServiceSpec(
          replica({
            placementConstraints: Array.from({ length: 11 }, () => ({ type: 'distinctInstance' })),
          }),
        ),
      /placementConstraints: at most 10/,
    );
    invalid(
      () =>
        validateServiceSpec(
          replica({ placementStrategy: Array.from({ length: 6 }, () => ({ type: 'random' })) }),
        ),
      /placementStrategy: at most 5/,
    );
    invalid(
      () => validateServiceSpec(replica({ placementConstraints: {} })),
      /placementConstraints must be a list/,
    );
    invalid(
      () => validateServiceSpec(replica({ placementStrategy: ['random'] })),
      /placementStrategy\[0\] must be an object/,
    );
    invalid(
      () =>
        validateServiceSpec({
          serviceName: 'd',
          schedulingStrategy: 'DAEMON',
          placementStrategy: [{ type: 'random' }],
        }),
      'Placement strategies are not supported with the DAEMON scheduling strategy.',
    );
    expect(
      validateServiceSpec({
        serviceName: 'd',
        schedulingStrategy: 'DAEMON',
        placementConstraints: [{ type: 'distinctInstance' }],
      }).placementConstraints,
    ).toEqual([{ type: 'distinctInstance' }]);
  });

  it('checks load balancers, keeping them as given, and the grace period that needs them', () => {
    const withExtra = { ...lb, loadBalancerName: 'x' };
    const spec = validateServiceSpec(
      replica({ loadBalancers: [withExtra], healthCheckGracePeriodSeconds: 30 }),
    );
    expect(spec.loadBalancers).toEqual([withExtra]);
    expect(spec.healthCheckGracePeriodSeconds).toBe(30);
    invalid(
      () => validateServiceSpec(replica({ loadBalancers: [{ ...lb, targetGroupArn: undefined }] })),
      /loadBalancers\[0\].targetGroupArn is required/,
    );
    invalid(
      () => validateServiceSpec(replica({ loadBalancers: [{ ...lb, containerName: '' }] })),
      /loadBalancers\[0\].containerName is required/,
    );
    invalid(
      () => validateServiceSpec(replica({ loadBalancers: [{ ...lb, containerPort: 70000 }] })),
      /loadBalancers\[0\].containerPort/,
    );
    invalid(
      () => validateServiceSpec(replica({ healthCheckGracePeriodSeconds: 10 })),
      'Health check grace period is only valid for services configured to use load balancers',
    );
    invalid(
      () =>
        validateServiceSpec(replica({ loadBalancers: [lb], healthCheckGracePeriodSeconds: -1 })),
      /healthCheckGracePeriodSeconds must be an integer between 0 and 2147483647/,
    );
    invalid(
      () =>
        validateServiceSpec(
          replica({ loadBalancers: [lb], healthCheckGracePeriodSeconds: 2 ** 31 }),
        ),
      /healthCheckGracePeriodSeconds/,
    );
  });

  it('checks tags', () => {
    expect(
      validateServiceSpec(replica({ tags: [{ key: 'team', value: 'a' }, { key: 'k' }] })).tags,
    ).toEqual([
      { key: 'team', value: 'a' },
      { key: 'k', value: '' },
    ]);
    invalid(
      () =>
        validateServiceSpec(
          replica({ tags: Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: '' })) }),
        ),
      /tags can have at most 50 tags/,
    );
    invalid(() => validateServiceSpec(replica({ tags: [{ key: '' }] })), /tags\[0\].key/);
    invalid(
      () => validateServiceSpec(replica({ tags: [{ key: 'k', value: 'v'.repeat(257) }] })),
      /tags\[0\].value/,
    );
  });
});

describe('parseServiceJson', () => {
  it('treats empty as absent and names the member of bad JSON', () => {
    expect(parseServiceJson('', 'tags')).toBeUndefined();
    expect(parseServiceJson(undefined, 'tags')).toBeUndefined();
    expect(parseServiceJson('[1]', 'tags')).toEqual([1]);
    invalid(() => parseServiceJson('{', 'loadBalancers'), 'loadBalancers is not valid JSON.');
  });
});
