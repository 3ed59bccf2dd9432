import {
  ClusterNotFoundError,
  InvalidParameterError,
  mergeTags,
  removeTags,
  ResourceNotFoundError,
  ResourceTag,
  validateTagKeys,
  validateTagList,
} from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { ClusterRepository } from './cluster.repository';
import type { StateContext } from './context';
import { inTransaction } from './db';
import { ResourceTagRepository, TaggableRef, taggableRefOf } from './resource-tag.repository';

const KIND_NAMES: Record<TaggableRef['kind'], string> = {
  cluster: 'cluster',
  service: 'service',
  'task-definition': 'task definition',
  task: 'task',
  'container-instance': 'container instance',
};

/**
 * TagResource, UntagResource and ListTagsForResource: the tags a resource was created with
 * are the ones these read and change (the same `tags` column). Tag changes write no event and
 * leave the resource's version alone: nothing in Wharf acts on tags.
 */
export class ResourceTagsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly clusters: ClusterRepository,
    private readonly tags: ResourceTagRepository,
  ) {}

  async tag(req: stateV1.TagResourceRequest): Promise<stateV1.ResourceTags> {
    const ref = taggableRefOf(req.resourceArn, this.ctx.arn);
    const added = validateTagList(parseTags(req.tagsJson), 'tags');
    return inTransaction(this.ctx.pool, async (tx) => {
      const current = await this.existing(tx, ref, ResourceNotFoundError);
      const next = mergeTags(current, added, 'tags');
      await this.tags.replace(tx, ref, next);
      return toProto(ref, next);
    });
  }

  async untag(req: stateV1.UntagResourceRequest): Promise<stateV1.ResourceTags> {
    const ref = taggableRefOf(req.resourceArn, this.ctx.arn);
    const keys = validateTagKeys(req.tagKeys, 'tagKeys');
    return inTransaction(this.ctx.pool, async (tx) => {
      const current = await this.existing(tx, ref, ResourceNotFoundError);
      const next = removeTags(current, keys);
      if (next.length !== current.length) await this.tags.replace(tx, ref, next);
      return toProto(ref, next);
    });
  }

  /** ListTagsForResource declares no ResourceNotFoundException: ECS answers InvalidParameter. */
  async list(req: stateV1.ListTagsForResourceRequest): Promise<stateV1.ResourceTags> {
    const ref = taggableRefOf(req.resourceArn, this.ctx.arn);
    return toProto(ref, await this.existing(this.ctx.pool, ref, InvalidParameterError));
  }

  /** The resource's tags (locked in a transaction); its cluster must exist first. */
  private async existing(
    q: Parameters<ClusterRepository['exists']>[0],
    ref: TaggableRef,
    NotFound: new (message: string) => Error,
  ): Promise<ResourceTag[]> {
    if (ref.cluster !== undefined && !(await this.clusters.exists(q, ref.cluster))) {
      throw new ClusterNotFoundError();
    }
    const found = await this.tags.find(q, ref, q !== this.ctx.pool);
    if (!found) throw new NotFound(`The specified ${KIND_NAMES[ref.kind]} is not found.`);
    return found;
  }
}

function parseTags(json: string): unknown {
  if (!json) return [];
  try {
    return JSON.parse(json);
  } catch {
    throw new InvalidParameterError('tags must be a list of key/value pairs.');
  }
}

const toProto = (ref: TaggableRef, tags: ResourceTag[]): stateV1.ResourceTags => ({
  resourceArn: ref.arn,
  tagsJson: JSON.stringify(tags),
});
