import { CLUSTER_NAME_PATTERN } from '@wharf/domain';
import { toEcsCluster, toEcsFailure } from '../protocol/shapes';
import { EcsApiError } from '../protocol/ecs-errors';
import {
  call,
  checkListSize,
  checkMaxResults,
  invalidParameter,
  Json,
  OperationHandler,
  str,
} from './operation-context';

export const createCluster: OperationHandler = async (input, { state }) => {
  refuseCapacityProvidersAndNamespaces('CreateCluster', input);
  const clusterName = str(input.clusterName) || 'default';
  if (!CLUSTER_NAME_PATTERN.test(clusterName)) {
    throw invalidParameter(
      'Cluster name can have up to 255 letters (uppercase and lowercase), numbers, hyphens and underscores.',
    );
  }
  const cluster = await call(
    'state',
    state.createCluster({
      clusterName,
      tagsJson: input.tags ? JSON.stringify(input.tags) : '',
      settingsJson: input.settings ? JSON.stringify(input.settings) : undefined,
      configurationJson: input.configuration ? JSON.stringify(input.configuration) : undefined,
    }),
  );
  // ECS answers CreateCluster with the tags it was given; DescribeClusters only when asked.
  return { cluster: toEcsCluster(cluster, { includeTags: true, ...SETTINGS_AND_CONFIGURATION }) };
};

export const listClusters: OperationHandler = async (input, { state }) => {
  const res = await call(
    'state',
    state.listClusters({
      maxResults: checkMaxResults(input.maxResults),
      nextToken: str(input.nextToken),
    }),
  );
  return { clusterArns: res.clusterArns, ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
};

export const describeClusters: OperationHandler = async (input, { state }) => {
  const requested = (input.clusters as string[] | undefined) ?? [];
  if (requested.length > 100) throw invalidParameter('clusters can have at most 100 items.');
  const res = await call(
    'state',
    state.describeClusters({ clusters: requested.length ? requested : ['default'] }),
  );
  const include = (input.include as string[] | undefined) ?? [];
  const includeTags = include.includes('TAGS');
  const includeSettings = include.includes('SETTINGS');
  const includeConfigurations = include.includes('CONFIGURATIONS');
  return {
    clusters: res.clusters.map((c) =>
      toEcsCluster(c, { includeTags, includeSettings, includeConfigurations }),
    ),
    failures: res.failures.map(toEcsFailure),
  };
};

/**
 * Members CreateCluster would otherwise drop silently. Empty lists ask for nothing. Neither
 * operation declares UnsupportedFeatureException: capacity providers are a ClientException,
 * a Service Connect namespace the NamespaceNotFoundException it would be.
 */
function refuseCapacityProvidersAndNamespaces(operation: string, input: Json): void {
  for (const member of ['capacityProviders', 'defaultCapacityProviderStrategy']) {
    if (((input[member] as unknown[] | undefined) ?? []).length > 0) {
      throw new EcsApiError(
        'ClientException',
        `${operation}: ${member} is not supported by Wharf: there are no capacity providers; tasks run on the cluster's container instances.`,
      );
    }
  }
  if (input.serviceConnectDefaults !== undefined) {
    throw new EcsApiError(
      'NamespaceNotFoundException',
      `${operation}: serviceConnectDefaults is not supported by Wharf: there are no Cloud Map namespaces (no Service Connect).`,
    );
  }
}

/** What the operations that change a cluster answer with, as ECS does. */
const SETTINGS_AND_CONFIGURATION = { includeSettings: true, includeConfigurations: true };

/**
 * DeleteCluster: state refuses a cluster that still has instances, services or tasks
 * (ClusterContains…Exception) and makes the others INACTIVE; the answer shows it so.
 */
export const deleteCluster: OperationHandler = async (input, { state }) => {
  const cluster = await call('state', state.deleteCluster({ cluster: str(input.cluster) }));
  return { cluster: toEcsCluster(cluster, SETTINGS_AND_CONFIGURATION) };
};

/**
 * UpdateCluster: settings and configuration are kept and returned (state validates them).
 * serviceConnectDefaults names a Cloud Map namespace, and Wharf has none: the model's answer
 * for a namespace that does not exist is NamespaceNotFoundException.
 */
export const updateCluster: OperationHandler = async (input, { state }) => {
  refuseCapacityProvidersAndNamespaces('UpdateCluster', input);
  const cluster = await call(
    'state',
    state.updateCluster({
      cluster: str(input.cluster),
      settingsJson: input.settings === undefined ? undefined : JSON.stringify(input.settings),
      configurationJson:
        input.configuration === undefined ? undefined : JSON.stringify(input.configuration),
    }),
  );
  return { cluster: toEcsCluster(cluster, SETTINGS_AND_CONFIGURATION) };
};

export const updateClusterSettings: OperationHandler = async (input, { state }) => {
  const settings = input.settings as unknown[];
  checkListSize('settings', settings, 10);
  const cluster = await call(
    'state',
    state.updateCluster({ cluster: str(input.cluster), settingsJson: JSON.stringify(settings) }),
  );
  return { cluster: toEcsCluster(cluster, SETTINGS_AND_CONFIGURATION) };
};
