import { CLUSTER_NAME_PATTERN } from '@wharf/domain';
import { toEcsCluster, toEcsFailure } from '../protocol/shapes';
import {
  call,
  checkMaxResults,
  invalidParameter,
  OperationHandler,
  str,
} from './operation-context';

export const createCluster: OperationHandler = async (input, { state }) => {
  const clusterName = str(input.clusterName) || 'default';
  if (!CLUSTER_NAME_PATTERN.test(clusterName)) {
    throw invalidParameter(
      'Cluster name can have up to 255 letters (uppercase and lowercase), numbers, hyphens and underscores.',
    );
  }
  const cluster = await call(
    'state',
    state.createCluster({ clusterName, tagsJson: input.tags ? JSON.stringify(input.tags) : '' }),
  );
  return { cluster: toEcsCluster(cluster) };
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
  return { clusters: res.clusters.map(toEcsCluster), failures: res.failures.map(toEcsFailure) };
};
