/**
 * Labels on every container the agent creates. They are how the agent finds its containers
 * again after a restart, and how Docker events are tied back to a task.
 */
export const LABELS = {
  taskArn: 'com.wharf.task-arn',
  containerName: 'com.wharf.container-name',
  cluster: 'com.wharf.cluster',
  containerInstanceArn: 'com.wharf.container-instance-arn',
  family: 'com.wharf.task-definition-family',
  revision: 'com.wharf.task-definition-revision',
  essential: 'com.wharf.essential',
  stopTimeout: 'com.wharf.stop-timeout',
  /** How many containers the task has: an adopted task with fewer never finished starting. */
  containerCount: 'com.wharf.task-container-count',
  /** The container's restartPolicy (JSON), so an adopting agent keeps carrying it out. */
  restartPolicy: 'com.wharf.restart-policy',
} as const;

export interface LabelInput {
  taskArn: string;
  containerName: string;
  clusterName: string;
  containerInstanceArn: string;
  family: string;
  revision: number;
  essential: boolean;
  stopTimeoutS: number;
  containerCount?: number;
  dockerLabels?: Record<string, string>;
}

/** The definition's dockerLabels, then Wharf's own (which a definition cannot override). */
export function buildLabels(input: LabelInput): Record<string, string> {
  const user: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.dockerLabels ?? {})) {
    if (!k.startsWith('com.wharf.')) user[k] = String(v);
  }
  return {
    ...user,
    [LABELS.taskArn]: input.taskArn,
    [LABELS.containerName]: input.containerName,
    [LABELS.cluster]: input.clusterName,
    [LABELS.containerInstanceArn]: input.containerInstanceArn,
    [LABELS.family]: input.family,
    [LABELS.revision]: String(input.revision),
    [LABELS.essential]: String(input.essential),
    [LABELS.stopTimeout]: String(input.stopTimeoutS),
    ...(input.containerCount ? { [LABELS.containerCount]: String(input.containerCount) } : {}),
  };
}

/** Docker names allow `[a-zA-Z0-9][a-zA-Z0-9_.-]*`; anything else becomes `-`. */
export function sanitizeName(raw: string): string {
  const cleaned = raw.replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/^[^a-zA-Z0-9]+/, '');
  return cleaned || 'x';
}

const MAX_NAME = 200;

/**
 * `wharf-<family>-<rev>-<containerName>-<taskId>`, sanitised. The task id stays whole at the
 * end (it is what makes the name unique); an overlong family or container name is cut.
 */
export function containerDockerName(
  family: string,
  revision: number,
  containerName: string,
  taskId: string,
): string {
  const tail = `-${sanitizeName(taskId)}`;
  let head = sanitizeName(`wharf-${family}-${revision}-${containerName}`);
  if (head.length + tail.length > MAX_NAME) head = head.slice(0, MAX_NAME - tail.length);
  return `${head}${tail}`;
}

/** The id at the end of a task ARN (`…:task/<cluster>/<id>`), or the whole string. */
export function taskIdOf(taskArn: string): string {
  const slash = taskArn.lastIndexOf('/');
  return slash < 0 ? taskArn : taskArn.slice(slash + 1);
}
