import { clusterNameOf, ClusterNotFoundError, InvalidParameterError } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import { CONTAINER_INSTANCE_TARGET } from './attributes';
import type { ClusterRepository } from './cluster.repository';
import type { ContainerInstanceRepository } from './container-instance.repository';
import type { StateContext } from './context';
import { pageSize, pageToken } from './db';

/**
 * ListAttributes: one entry per attribute per container instance (the agent's and the custom
 * ones), ordered by instance id then name, filtered by name (and value), paged with a token
 * holding the last (instance id, name) returned.
 */
export class ListAttributesQuery {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly instances: ContainerInstanceRepository,
  ) {}

  async execute(req: stateV1.ListAttributesRequest): Promise<stateV1.ListAttributesResponse> {
    if (req.targetType !== CONTAINER_INSTANCE_TARGET) {
      throw new InvalidParameterError(`targetType must be ${CONTAINER_INSTANCE_TARGET}.`);
    }
    if (req.attributeValue && !req.attributeName) {
      throw new InvalidParameterError('attributeValue needs attributeName.');
    }
    const cluster = clusterNameOf(req.cluster);
    if (!(await this.clusters.exists(this.ctx.pool, cluster))) throw new ClusterNotFoundError();
    const limit = pageSize(req.maxResults, 100, 100);
    const after = decodeAfter(req.nextToken);

    const all: (stateV1.TargetAttribute & { id: string })[] = [];
    for (const instance of await this.instances.attributesOf(this.ctx.pool, cluster)) {
      const names = [...instance.attributes].sort((a, b) => compare(a.name, b.name));
      for (const a of names) {
        if (req.attributeName && a.name !== req.attributeName) continue;
        if (req.attributeValue && a.value !== req.attributeValue) continue;
        if (after && (instance.id < after.id || (instance.id === after.id && a.name <= after.name)))
          continue;
        all.push({
          id: instance.id,
          name: a.name,
          value: a.value,
          targetType: CONTAINER_INSTANCE_TARGET,
          targetId: instance.arn,
        });
        if (all.length > limit) break;
      }
      if (all.length > limit) break;
    }
    const page = all.slice(0, limit);
    const last = page[page.length - 1];
    return {
      attributes: page.map(({ id: _id, ...a }) => a),
      nextToken: all.length > limit ? pageToken.encode(`${last.id}\n${last.name}`) : '',
    };
  }
}

function decodeAfter(token: string): { id: string; name: string } | undefined {
  const raw = pageToken.decode(token);
  if (!raw) return undefined;
  const at = raw.indexOf('\n');
  if (at < 0) throw new InvalidParameterError('nextToken is not valid.');
  return { id: raw.slice(0, at), name: raw.slice(at + 1) };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
