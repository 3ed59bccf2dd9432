import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Observable, of, throwError } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import { readIdentity, writeIdentity } from './instance-identity';
import {
  InstanceDeregisteredError,
  JoinTokenRefusedError,
  registerContainerInstance,
  RegistrationRequest,
} from './register-container-instance';

const CLUSTER = 'default';
const OLD_ARN = 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/old';
const NEW_ARN = 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/new';
const request: RegistrationRequest = {
  cluster: CLUSTER,
  ec2InstanceId: '',
  total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
  attributes: [],
  agentVersion: 'test',
  dockerVersion: 'test',
  agentAddress: 'host:1',
  hostname: 'host',
  hostAddress: '127.0.0.1',
};

const grpcError = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details });

/** A state client whose RegisterContainerInstance answers from `answers`, in turn. */
function fakeState(answers: (() => Observable<common.ContainerInstance>)[]) {
  const calls: stateV1.RegisterContainerInstanceRequest[] = [];
  const client = {
    registerContainerInstance(req: stateV1.RegisterContainerInstanceRequest) {
      calls.push(req);
      const next = answers.shift();
      if (!next) throw new Error('unexpected call');
      return next();
    },
  } as unknown as stateV1.StateServiceClient;
  return { client, calls };
}

const instance = (arn: string) => ({ containerInstanceArn: arn }) as common.ContainerInstance;

describe('registerContainerInstance', () => {
  const logger = pino({ level: 'silent' });
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wharf-agent-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('re-registers with the remembered ARN and keeps it', async () => {
    await writeIdentity(dataDir, { containerInstanceArn: OLD_ARN, cluster: CLUSTER });
    const state = fakeState([() => of(instance(OLD_ARN))]);
    await expect(
      registerContainerInstance(state.client, request, dataDir, logger),
    ).resolves.toEqual(instance(OLD_ARN));
    expect(state.calls.map((c) => c.containerInstanceArn)).toEqual([OLD_ARN]);
    expect(await readIdentity(dataDir)).toEqual({
      containerInstanceArn: OLD_ARN,
      cluster: CLUSTER,
    });
  });

  it('retries while state is unavailable', async () => {
    const state = fakeState([
      () => throwError(() => grpcError(GrpcCode.UNAVAILABLE, 'No connection established')),
      () => of(instance(NEW_ARN)),
    ]);
    await registerContainerInstance(state.client, request, dataDir, logger);
    expect(state.calls).toHaveLength(2);
    expect(await readIdentity(dataDir)).toEqual({
      containerInstanceArn: NEW_ARN,
      cluster: CLUSTER,
    });
  });

  it('stops, without retrying or forgetting its identity, when its instance was deregistered', async () => {
    await writeIdentity(dataDir, { containerInstanceArn: OLD_ARN, cluster: CLUSTER });
    const before = await readFile(join(dataDir, 'instance.json'), 'utf8');
    const state = fakeState([
      () =>
        throwError(() =>
          grpcError(
            GrpcCode.FAILED_PRECONDITION,
            `ClientException: Container instance ${OLD_ARN} was deregistered (INACTIVE) and cannot register again`,
          ),
        ),
      () => of(instance(NEW_ARN)),
    ]);
    const err = await registerContainerInstance(state.client, request, dataDir, logger).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InstanceDeregisteredError);
    expect((err as Error).message).toContain(OLD_ARN);
    expect((err as Error).message).toContain(join(dataDir, 'instance.json'));
    expect(state.calls).toHaveLength(1);
    expect(await readFile(join(dataDir, 'instance.json'), 'utf8')).toBe(before);
  });

  it.each([GrpcCode.UNAUTHENTICATED, GrpcCode.PERMISSION_DENIED])(
    'stops at once, exit code 78, when state refuses its join token (gRPC %s)',
    async (code) => {
      const state = fakeState([
        () =>
          throwError(() =>
            grpcError(
              code,
              'AccessDeniedException: Join token abc was revoked. Create a join token with `wharf admin join-token create --cluster default` and set WHARF_JOIN_TOKEN on the agent to it.',
            ),
          ),
        () => of(instance(NEW_ARN)),
      ]);
      const err = await registerContainerInstance(
        state.client,
        { ...request, joinToken: 'wjt_x' },
        dataDir,
        logger,
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JoinTokenRefusedError);
      expect((err as JoinTokenRefusedError).exitCode).toBe(78);
      expect((err as Error).message).toBe(
        'state refused to let this agent join cluster default: Join token abc was revoked. Create a join token with `wharf admin join-token create --cluster default` and set WHARF_JOIN_TOKEN on the agent to it.',
      );
      expect(state.calls).toHaveLength(1);
      expect(state.calls[0].joinToken).toBe('wjt_x');
      expect(await readIdentity(dataDir)).toBeUndefined();
    },
  );
});
