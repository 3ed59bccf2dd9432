import { firstValueFrom } from 'rxjs';
import type { Logger } from 'pino';
import type { common, stateV1 } from '@wharf/proto';
import { readIdentity, writeIdentity } from './instance-identity';
import { retryForever } from './retry';

export type RegistrationRequest = Omit<
  stateV1.RegisterContainerInstanceRequest,
  'containerInstanceArn'
>;

/**
 * Registers this host with state, as the instance it was before when the data directory
 * remembers one, retrying until state answers; then remembers the ARN state gave.
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
  );
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
