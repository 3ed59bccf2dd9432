/** ECS ARNs: `arn:aws:ecs:{region}:{account}:{resource}`. */
export interface ArnContext {
  region: string;
  accountId: string;
}

export const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;
export const FAMILY_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;

const prefix = (ctx: ArnContext) => `arn:aws:ecs:${ctx.region}:${ctx.accountId}:`;

export const arns = {
  cluster: (ctx: ArnContext, name: string) => `${prefix(ctx)}cluster/${name}`,
  taskDefinition: (ctx: ArnContext, family: string, revision: number) =>
    `${prefix(ctx)}task-definition/${family}:${revision}`,
  task: (ctx: ArnContext, cluster: string, id: string) => `${prefix(ctx)}task/${cluster}/${id}`,
  containerInstance: (ctx: ArnContext, cluster: string, id: string) =>
    `${prefix(ctx)}container-instance/${cluster}/${id}`,
  container: (ctx: ArnContext, cluster: string, taskId: string, containerId: string) =>
    `${prefix(ctx)}container/${cluster}/${taskId}/${containerId}`,
  service: (ctx: ArnContext, cluster: string, name: string) =>
    `${prefix(ctx)}service/${cluster}/${name}`,
};

export interface ParsedArn {
  region: string;
  accountId: string;
  resourceType: string;
  /** the path after the resource type, split on '/' */
  parts: string[];
}

export function parseArn(arn: string): ParsedArn | undefined {
  const m = /^arn:aws:ecs:([^:]*):([^:]*):([a-z-]+)\/(.+)$/.exec(arn);
  if (!m) return undefined;
  return { region: m[1], accountId: m[2], resourceType: m[3], parts: m[4].split('/') };
}

/** A cluster given as a name or an ARN → its name; undefined or '' means `default`. */
export function clusterNameOf(clusterOrArn: string | undefined): string {
  if (!clusterOrArn) return 'default';
  const parsed = parseArn(clusterOrArn);
  if (parsed && parsed.resourceType === 'cluster') return parsed.parts[0];
  return clusterOrArn;
}

/**
 * A task or container instance given as an id or an ARN → its id. ARNs in the long format
 * (`task/{cluster}/{id}`) and the old short one (`task/{id}`) are both accepted.
 */
export function resourceIdOf(idOrArn: string, resourceType: 'task' | 'container-instance'): string {
  const parsed = parseArn(idOrArn);
  if (parsed && parsed.resourceType === resourceType) return parsed.parts[parsed.parts.length - 1];
  return idOrArn;
}

/** `family`, `family:revision` or a task definition ARN. */
export function parseTaskDefinitionRef(
  ref: string,
): { family: string; revision?: number } | undefined {
  let body = ref;
  const parsed = parseArn(ref);
  if (parsed) {
    if (parsed.resourceType !== 'task-definition') return undefined;
    body = parsed.parts.join('/');
  }
  const m = /^([A-Za-z0-9_-]{1,255})(?::(\d+))?$/.exec(body);
  if (!m) return undefined;
  const revision = m[2] === undefined ? undefined : Number(m[2]);
  // Revisions are 32-bit (ECS's Integer): a larger one names nothing.
  if (revision !== undefined && revision > 2_147_483_647) return undefined;
  return { family: m[1], revision };
}
