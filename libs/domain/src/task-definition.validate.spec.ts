import { ClientError, InvalidParameterError } from './errors';
import { validateTaskDefinition, validateTaskOverride } from './task-definition.validate';

const web = { name: 'web', image: 'nginx', memory: 128 };
const td = (over: Record<string, unknown> = {}) => ({
  family: 'app',
  containerDefinitions: [web],
  ...over,
});

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('validateTaskDefinition', () => {
  it('normalises: essential true, protocol tcp, undefined dropped, networkMode as given', () => {
    const out = validateTaskDefinition(
      td({ containerDefinitions: [{ ...web, portMappings: [{ containerPort: 80 }] }] }),
    );
    expect(out.containerDefinitions[0]).toEqual({
      name: 'web',
      image: 'nginx',
      memory: 128,
      essential: true,
      portMappings: [{ containerPort: 80, protocol: 'tcp' }],
    });
    expect('networkMode' in out).toBe(false);
    expect(JSON.stringify(out)).not.toContain('null');
  });

  it('keeps members it does not know', () => {
    const out = validateTaskDefinition(td({ runtimePlatform: { operatingSystemFamily: 'LINUX' } }));
    expect(out.runtimePlatform).toEqual({ operatingSystemFamily: 'LINUX' });
  });

  it.each([
    [td({ family: 'bad family!' }), InvalidParameterError, 'family must be 1-255 letters'],
    [td({ family: 5 }), InvalidParameterError, 'family'],
    [
      td({ networkMode: 'overlay' }),
      InvalidParameterError,
      'networkMode must be one of bridge, host, awsvpc, none',
    ],
    [td({ containerDefinitions: [] }), ClientError, 'containerDefinitions'],
    [
      td({ containerDefinitions: [{ name: 'web', memory: 1 }] }),
      ClientError,
      'Container.image should not be null or empty.',
    ],
    [
      td({ containerDefinitions: [{ image: 'x', memory: 1 }] }),
      ClientError,
      'Container.name should not be null or empty.',
    ],
    [
      td({ containerDefinitions: [web, { name: 'b', image: 'x', memory: -1 }] }),
      InvalidParameterError,
      'containerDefinitions[1].memory must be a positive integer',
    ],
    [
      td({ containerDefinitions: [{ ...web, memory: '128' }] }),
      InvalidParameterError,
      'containerDefinitions[0].memory must be a positive integer',
    ],
    [
      td({ containerDefinitions: [web, web] }),
      InvalidParameterError,
      'Duplicate container name: web',
    ],
    [
      td({ containerDefinitions: [{ ...web, essential: false }] }),
      InvalidParameterError,
      'At least one essential container is required',
    ],
    [
      td({ containerDefinitions: [{ name: 'web', image: 'x' }] }),
      ClientError,
      "At least one of 'memory' or 'memoryReservation' must be specified",
    ],
    [
      td({ containerDefinitions: [{ ...web, memoryReservation: 256 }] }),
      InvalidParameterError,
      'memoryReservation (256) must not be greater than memory (128)',
    ],
    [
      td({ containerDefinitions: [{ ...web, portMappings: [{ containerPort: 0 }] }] }),
      InvalidParameterError,
      'portMappings[0].containerPort must be an integer from 1 to 65535',
    ],
    [
      td({
        containerDefinitions: [{ ...web, portMappings: [{ containerPort: 80, hostPort: 70000 }] }],
      }),
      InvalidParameterError,
      'hostPort must be an integer from 0 to 65535',
    ],
    [
      td({
        containerDefinitions: [{ ...web, portMappings: [{ containerPort: 80, protocol: 'sctp' }] }],
      }),
      InvalidParameterError,
      'protocol must be one of tcp, udp',
    ],
    [
      td({
        containerDefinitions: [
          {
            ...web,
            portMappings: [
              { containerPort: 80, hostPort: 8080 },
              { containerPort: 81, hostPort: 8080 },
            ],
          },
        ],
      }),
      InvalidParameterError,
      'duplicate host port 8080/tcp',
    ],
    [
      td({
        networkMode: 'host',
        containerDefinitions: [{ ...web, portMappings: [{ containerPort: 80, hostPort: 81 }] }],
      }),
      InvalidParameterError,
      'must match',
    ],
    [
      td({
        containerDefinitions: [
          { ...web, dependsOn: [{ containerName: 'db', condition: 'START' }] },
        ],
      }),
      InvalidParameterError,
      'unknown container: db',
    ],
    [
      td({
        containerDefinitions: [
          web,
          { ...web, name: 'b', dependsOn: [{ containerName: 'web', condition: 'READY' }] },
        ],
      }),
      InvalidParameterError,
      'containerDefinitions[1].dependsOn[0].condition must be one of START',
    ],
    [
      td({ containerDefinitions: [{ ...web, environment: [{ name: 'A', value: 1 }] }] }),
      InvalidParameterError,
      'containerDefinitions[0].environment[0].value must be a string',
    ],
    [
      td({ containerDefinitions: [{ ...web, command: 'sleep 1' }] }),
      InvalidParameterError,
      'containerDefinitions[0].command must be a list',
    ],
    [td({ cpu: 'lots' }), InvalidParameterError, 'cpu must be'],
    [td({ memory: 512 }), InvalidParameterError, 'taskDefinition.memory must be a string'],
    [
      td({
        containerDefinitions: [
          { ...web, mountPoints: [{ sourceVolume: 'data', containerPath: '/d' }] },
        ],
      }),
      InvalidParameterError,
      'sourceVolume data is not a volume',
    ],
    ['nope', InvalidParameterError, 'must be an object'],
  ])('rejects %#', (input, type, message) => {
    const err = errorOf(() => validateTaskDefinition(input));
    expect(err).toBeInstanceOf(type);
    expect(err.message).toContain(message);
  });

  it('accepts task-level memory instead of container memory, and parses cpu/memory strings', () => {
    const out = validateTaskDefinition(
      td({ cpu: '0.5 vCPU', memory: '1 GB', containerDefinitions: [{ name: 'a', image: 'x' }] }),
    );
    expect(out.memory).toBe('1 GB');
  });

  it('allows the same port on different protocols and dynamic ports twice', () => {
    expect(() =>
      validateTaskDefinition(
        td({
          containerDefinitions: [
            {
              ...web,
              portMappings: [
                { containerPort: 53, hostPort: 53 },
                { containerPort: 53, hostPort: 53, protocol: 'udp' },
                { containerPort: 80, hostPort: 0 },
                { containerPort: 81 },
              ],
            },
          ],
        }),
      ),
    ).not.toThrow();
  });
});

describe('validateTaskOverride', () => {
  it('returns {} for no overrides and checks container names', () => {
    expect(validateTaskOverride(undefined)).toEqual({});
    expect(
      validateTaskOverride({ containerOverrides: [{ name: 'web', cpu: 10 }] }, ['web']),
    ).toEqual({
      containerOverrides: [{ name: 'web', cpu: 10 }],
    });
    expect(() => validateTaskOverride({ containerOverrides: [{ name: 'db' }] }, ['web'])).toThrow(
      'Override for container named db is not a container in the TaskDefinition.',
    );
    expect(() =>
      validateTaskOverride({ containerOverrides: [{ name: 'web', memory: 'x' }] }),
    ).toThrow('overrides.containerOverrides[0].memory must be a positive integer');
    expect(() => validateTaskOverride([])).toThrow('overrides must be an object');
  });
});
