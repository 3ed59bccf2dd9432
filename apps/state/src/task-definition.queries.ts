import { InvalidParameterError } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import { pageSize } from './db';
import type { TaskDefinitionRepository } from './task-definition.repository';

const TASK_DEFINITION_STATUSES = ['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'];
const FAMILY_STATUSES = ['ACTIVE', 'INACTIVE', 'ALL'] as const;
const SORT_ORDERS = ['ASC', 'DESC'];

/**
 * An opaque key-set token: the last key of the page and what the listing was (kind, status,
 * sort), base64url JSON. A token that is not one of ours, or that belongs to another listing,
 * is InvalidParameterException, as ECS answers.
 */
const listToken = {
  encode: (scope: string, key: unknown[]): string =>
    Buffer.from(JSON.stringify({ s: scope, k: key }), 'utf8').toString('base64url'),
  decode(token: string, scope: string): unknown[] | undefined {
    if (!token) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const t = parsed as { s?: unknown; k?: unknown } | undefined;
    if (!t || typeof t !== 'object' || t.s !== scope || !Array.isArray(t.k)) {
      throw new InvalidParameterError('Invalid nextToken.');
    }
    return t.k;
  },
};

/** ListTaskDefinitions and ListTaskDefinitionFamilies. */
export class TaskDefinitionQueries {
  constructor(
    private readonly ctx: StateContext,
    private readonly taskDefinitions: TaskDefinitionRepository,
  ) {}

  /** Default status ACTIVE, sort ASC: by family, then revision (DESC reverses both). */
  async listTaskDefinitions(
    req: stateV1.ListTaskDefinitionsRequest,
  ): Promise<stateV1.ListTaskDefinitionsResponse> {
    const status = req.status || 'ACTIVE';
    const sort = req.sort || 'ASC';
    if (!TASK_DEFINITION_STATUSES.includes(status)) {
      throw new InvalidParameterError(
        `status must be one of [${TASK_DEFINITION_STATUSES.join(', ')}]; got '${status}'.`,
      );
    }
    if (!SORT_ORDERS.includes(sort)) {
      throw new InvalidParameterError(
        `sort must be one of [${SORT_ORDERS.join(', ')}]; got '${sort}'.`,
      );
    }
    const limit = checkedLimit(req.maxResults);
    const scope = `td:${status}:${sort}:${req.familyPrefix}`;
    const key = listToken.decode(req.nextToken, scope);
    let after: { family: string; revision: number } | undefined;
    if (key) {
      const [family, revision] = key;
      if (typeof family !== 'string' || !Number.isInteger(revision)) {
        throw new InvalidParameterError('Invalid nextToken.');
      }
      after = { family, revision: revision as number };
    }
    const rows = await this.taskDefinitions.page(
      this.ctx.pool,
      { familyPrefix: req.familyPrefix, status, descending: sort === 'DESC' },
      after,
      limit + 1,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      taskDefinitionArns: page.map((r) => this.taskDefinitions.arnOf(r.family, r.revision)),
      nextToken: rows.length > limit ? listToken.encode(scope, [last.family, last.revision]) : '',
    };
  }

  /** Default status ALL: families that still have a revision. */
  async listTaskDefinitionFamilies(
    req: stateV1.ListTaskDefinitionFamiliesRequest,
  ): Promise<stateV1.ListTaskDefinitionFamiliesResponse> {
    const status = (req.status || 'ALL') as (typeof FAMILY_STATUSES)[number];
    if (!FAMILY_STATUSES.includes(status)) {
      throw new InvalidParameterError(
        `status must be one of [${FAMILY_STATUSES.join(', ')}]; got '${status}'.`,
      );
    }
    const limit = checkedLimit(req.maxResults);
    const scope = `family:${status}:${req.familyPrefix}`;
    const key = listToken.decode(req.nextToken, scope);
    if (key && typeof key[0] !== 'string') throw new InvalidParameterError('Invalid nextToken.');
    const families = await this.taskDefinitions.familyPage(
      this.ctx.pool,
      { familyPrefix: req.familyPrefix, status },
      key?.[0] as string | undefined,
      limit + 1,
    );
    const page = families.slice(0, limit);
    return {
      families: page,
      nextToken: families.length > limit ? listToken.encode(scope, [page[page.length - 1]]) : '',
    };
  }
}

function checkedLimit(maxResults: number): number {
  if (maxResults < 0 || maxResults > 100) {
    throw new InvalidParameterError('maxResults must be between 1 and 100.');
  }
  return pageSize(maxResults, 100, 100);
}
