import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import type { Logger } from 'pino';
import { GrpcCode } from '@wharf/domain';
import type { common, stateV1 } from '@wharf/proto';
import { IDENTITY_FILE, readIdentity, writeIdentity } from './instance-identity';
import { retryForever } from './retry';

export type RegistrationRequest = Omit<
  stateV1.RegisterContainerInstanceRequest,
  'containerInstanceArn'
>;

/**
 * State refused to register the instance the data directory remembers because it was
 * deregistered. No retry can cure that, and registering as a new instance on our own would
 * put a host that may still run orphaned tasks back into placement: the agent stops instead.
 */
export class InstanceDeregisteredError extends Error {
  constructor(
    readonly containerInstanceArn: string,
    readonly dataDir: string,
    detail: string,
  ) {
    super(
      `container instance ${containerInstanceArn} was deregistered; this agent will not run with it. ` +
        `To register this host as a new container instance, stop the tasks still running on it ` +
        `and delete ${join(dataDir, IDENTITY_FILE)} (state said: ${detail})`,
    );
    this.name = 'InstanceDeregisteredError';
  }
}

/**
 * State refused the agent's join token (WHARF_JOIN_TOKEN missing, unknown, revoked, expired,
 * or for another cluster). Retrying cannot help; the process exits with EX_CONFIG (78), which
 * the host image's supervisor (deploy/host/wharf-host) does not restart.
 */
export class JoinTokenRefusedError extends Error {
  /** EX_CONFIG from sysexits.h: a configuration error, do not restart. */
  readonly exitCode = 78;
  constructor(
    readonly cluster: string,
    detail: string,
  ) {
    super(`state refused to let this agent join cluster ${cluster}: ${detail}`);
    this.name = 'JoinTokenRefusedError';
  }
}

const isFailedPrecondition = (err: unknown): boolean =>
  (err as { code?: unknown } | null)?.code === GrpcCode.FAILED_PRECONDITION;

const isJoinRefused = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === GrpcCode.UNAUTHENTICATED || code === GrpcCode.PERMISSION_DENIED;
};

/** What state said, without the `AccessDeniedException: ` that names the error between services. */
const detailsOf = (err: unknown): string =>
  ((err as { details?: string }).details ?? String(err)).replace(/^[A-Za-z]+Exception: /, '');

/**
 * Registers this host with state, as the instance it was before when the data directory
 * remembers one, retrying until state answers; then remembers the ARN state gave. A
 * remembered instance that was deregistered (FAILED_PRECONDITION) is not retried:
 * `InstanceDeregisteredError`, and the data directory is left as it is. Nor is a refused join
 * token (UNAUTHENTICATED, PERMISSION_DENIED): `JoinTokenRefusedError`.
 */
export async function registerContainerInstance(
  state: stateV1.StateServiceClient,
  request: RegistrationRequest,
  dataDir: string,
  logger: Logger,
): Promise<common.ContainerInstance> {
  const stored = await readIdentity(dataDir);
  const containerInstanceArn =
    stored && stored.cluster === request.cluster ? stored.containerInstanceArn : '';
  const instance = await retryForever(
    'registering the container instance',
    // State answers an ARN it does not know with a new instance, so the remembered one is
    // always safe to send.
    () => firstValueFrom(state.registerContainerInstance({ ...request, containerInstanceArn })),
    logger,
    {
      isFinal: (err) => isJoinRefused(err) || (!!containerInstanceArn && isFailedPrecondition(err)),
    },
  ).catch((err: unknown) => {
    if (isJoinRefused(err)) throw new JoinTokenRefusedError(request.cluster, detailsOf(err));
    if (!isFailedPrecondition(err)) throw err;
    const detail = (err as { details?: string }).details ?? String(err);
    throw new InstanceDeregisteredError(containerInstanceArn, dataDir, detail);
  });
  await writeIdentity(dataDir, {
    containerInstanceArn: instance.containerInstanceArn,
    cluster: request.cluster,
  });
  logger.info(
    {
      containerInstanceArn: instance.containerInstanceArn,
      reused: instance.containerInstanceArn === containerInstanceArn,
    },
    'container instance registered',
  );
  return instance;
}
