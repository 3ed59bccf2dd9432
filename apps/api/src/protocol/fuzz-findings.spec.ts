/**
 * The protocol-layer bugs the fuzz test (apps/api/src/fuzz.int-spec.ts) found, one test each.
 */
import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { checkInput, EcsDispatcher } from '../ecs-dispatcher';
import type { Authenticator } from '../auth/authenticator';
import { EcsController } from '../ecs.controller';
import type { OperationContext } from '../operations';
import { apiConfigSchema } from '../config';
import { loadConfig } from '@wharf/config';
import { EcsApiError } from './ecs-errors';
import { MAX_JSON_DEPTH, nestsDeeperThan, parseBody } from './target';

function thrown(fn: () => unknown): EcsApiError {
  try {
    fn();
  } catch (err) {
    return err as EcsApiError;
  }
  throw new Error('expected an error');
}

describe('operations named like Object.prototype members', () => {
  // They passed the `[A-Za-z]+` target check and found Object's own functions: a 500.
  const dispatcher = new EcsDispatcher({} as OperationContext);
  it.each(['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'])(
    '%s is an UnknownOperationException',
    async (operation) => {
      const err = (await dispatcher
        .dispatch(operation, {})
        .catch((e: unknown) => e)) as EcsApiError;
      expect(err).toBeInstanceOf(EcsApiError);
      expect(err.type).toBe('UnknownOperationException');
      expect(err.status).toBe(400);
    },
  );
});

describe('deeply nested bodies', () => {
  // 10,000 levels in an unknown member passed the model check, and JSON.stringify of it in
  // CreateService, UpdateService, RunTask or StartTask threw a RangeError: a 500.
  const nested = (depth: number) => `{"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
  it('refuses more than MAX_JSON_DEPTH levels with a SerializationException', () => {
    const err = thrown(() => parseBody(Buffer.from(nested(10_000))));
    expect(err.type).toBe('SerializationException');
    expect(err.message).toContain(`${MAX_JSON_DEPTH} levels`);
    expect(thrown(() => parseBody(nested(MAX_JSON_DEPTH + 1))).type).toBe('SerializationException');
  });
  it('accepts MAX_JSON_DEPTH levels', () => {
    expect(() => parseBody(nested(MAX_JSON_DEPTH))).not.toThrow();
  });
  it('measures depth without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nestsDeeperThan(deep, MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: 1 }], c: {} }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: [] }] }, 3)).toBe(true);
  });
});

describe('integers beyond the model type', () => {
  // 4294967297 passed as an Integer and an int32 proto field wrapped it to 1.
  it.each([2 ** 31, -(2 ** 31) - 1, 2 ** 32 + 1, 1e20])(
    'desiredCount %p is a SerializationException',
    (n) => {
      const err = thrown(() =>
        checkInput('UpdateServiceRequest', { service: 'svc', desiredCount: n }),
      );
      expect(err.type).toBe('SerializationException');
      expect(err.message).toContain(
        'desiredCount must be an integer from -2147483648 to 2147483647',
      );
    },
  );
  it('accepts the int32 bounds', () => {
    for (const n of [2 ** 31 - 1, -(2 ** 31)]) {
      expect(() =>
        checkInput('UpdateServiceRequest', { service: 's', desiredCount: n }),
      ).not.toThrow();
    }
  });
});

describe('null items in lists and null map values', () => {
  // They passed the model check and reached handlers and proto encoders as null.
  it.each([
    ['DescribeClustersRequest', { clusters: ['a', null] }, 'clusters[1] must not be null'],
    ['PutAttributesRequest', { attributes: [null] }, 'attributes[0] must not be null'],
    ['RunTaskRequest', { taskDefinition: 'web', tags: [null] }, 'tags[0] must not be null'],
    [
      'RegisterTaskDefinitionRequest',
      { family: 'f', containerDefinitions: [{ dockerLabels: { a: null } }] },
      'containerDefinitions[0].dockerLabels.a must not be null',
    ],
  ])('%s %j', (shape, input, message) => {
    const err = thrown(() => checkInput(shape, input as Record<string, unknown>));
    expect(err.type).toBe('SerializationException');
    expect(err.message).toBe(message);
  });
  it('still treats a null member as absent', () => {
    expect(() => checkInput('ListClustersRequest', { nextToken: null })).not.toThrow();
  });
});

describe('a body over the limit', () => {
  // The rest of it is not read, so the connection is closed rather than reused.
  it('is a 413 SerializationException that closes the connection', async () => {
    const config = loadConfig(apiConfigSchema, { API_MAX_BODY_BYTES: '1024' });
    // (The body is read before anyone is authenticated: this one never gets that far.)
    const auth = { ecs: () => Promise.reject(new Error('not reached')) };
    const controller = new EcsController(
      new EcsDispatcher({} as OperationContext),
      config,
      auth as unknown as Authenticator,
    );
    const headers: Record<string, string> = {};
    const res = {
      locals: {},
      setHeader: (k: string, v: string) => (headers[k.toLowerCase()] = v),
    } as unknown as Response;
    const req = Readable.from([
      Buffer.from('{"cluster":"'),
      Buffer.alloc(1100, 'x'),
      Buffer.from('"}'),
    ]);
    const err = (await controller
      .handle('AmazonEC2ContainerServiceV20141113.ListClusters', req as unknown as Request, res)
      .catch((e: unknown) => e)) as EcsApiError;
    expect(err.type).toBe('SerializationException');
    expect(err.status).toBe(413);
    expect(headers.connection).toBe('close');
  });
});
