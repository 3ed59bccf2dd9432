import { buildLabels, containerDockerName, LABELS, sanitizeName, taskIdOf } from './labels';

describe('labels and names', () => {
  it('sanitises Docker names', () => {
    expect(sanitizeName('wharf-web-1-app')).toBe('wharf-web-1-app');
    expect(sanitizeName('--a b/c:d')).toBe('a-b-c-d');
    expect(sanitizeName('***')).toBe('x');
  });

  it('names containers wharf-<family>-<rev>-<container>-<taskId>', () => {
    expect(containerDockerName('web', 2, 'my app', 'f00d')).toBe('wharf-web-2-my-app-f00d');
    const long = containerDockerName('f'.repeat(255), 1, 'c', 'abcdef0123');
    expect(long.length).toBeLessThanOrEqual(200);
    expect(long.endsWith('-abcdef0123')).toBe(true);
  });

  it('takes the task id from an ARN', () => {
    expect(taskIdOf('arn:aws:ecs:us-east-1:000000000000:task/default/123')).toBe('123');
    expect(taskIdOf('plain')).toBe('plain');
  });

  it("keeps Wharf's labels authoritative over dockerLabels", () => {
    const labels = buildLabels({
      taskArn: 't',
      containerName: 'c',
      clusterName: 'default',
      containerInstanceArn: 'ci',
      family: 'f',
      revision: 4,
      essential: false,
      stopTimeoutS: 7,
      dockerLabels: { a: 'b', [LABELS.taskArn]: 'evil' },
    });
    expect(labels).toEqual({
      a: 'b',
      [LABELS.taskArn]: 't',
      [LABELS.containerName]: 'c',
      [LABELS.cluster]: 'default',
      [LABELS.containerInstanceArn]: 'ci',
      [LABELS.family]: 'f',
      [LABELS.revision]: '4',
      [LABELS.essential]: 'false',
      [LABELS.stopTimeout]: '7',
    });
  });
});
