import type { StartTaskRequest } from './generated/wharf/agent/v1/agent';
import type { Task, TaskDefinition } from './generated/wharf/common/v1/common';
import {
  DefinitionNotSentError,
  MAX_STREAMED_DEFINITIONS,
  StreamedDefinitions,
} from './agent-commands';

const definition = (arn: string) =>
  ({ taskDefinitionArn: arn, family: 'web', revision: 1, definitionJson: '{}' }) as TaskDefinition;
const start = (definitionArn: string, carried?: TaskDefinition): StartTaskRequest => ({
  task: { taskArn: 'arn:task/t', taskDefinitionArn: definitionArn } as Task,
  taskDefinition: carried,
});

describe('StreamedDefinitions', () => {
  it('gives a request without its definition the one an earlier request brought', () => {
    const definitions = new StreamedDefinitions();
    const web = definition('td/web:1');
    expect(definitions.complete(start('td/web:1', web)).taskDefinition).toBe(web);
    expect(definitions.complete(start('td/web:1')).taskDefinition).toBe(web);
  });

  it('refuses a request whose definition the stream never brought, as FAILED_PRECONDITION', () => {
    const definitions = new StreamedDefinitions();
    definitions.complete(start('td/web:1', definition('td/web:1')));
    const refused = (() => {
      try {
        definitions.complete(start('td/api:3'));
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(DefinitionNotSentError);
    expect(refused).toMatchObject({ code: 9 });
    expect((refused as Error).message).toContain('td/api:3 was not sent on this stream');
  });

  it('forgets what it keeps past MAX_STREAMED_DEFINITIONS', () => {
    const definitions = new StreamedDefinitions();
    for (let i = 0; i < MAX_STREAMED_DEFINITIONS; i++) {
      definitions.complete(start(`td/f${i}:1`, definition(`td/f${i}:1`)));
    }
    expect(definitions.complete(start('td/f0:1')).taskDefinition?.taskDefinitionArn).toBe(
      'td/f0:1',
    );
    definitions.complete(start('td/new:1', definition('td/new:1')));
    expect(() => definitions.complete(start('td/f0:1'))).toThrow(DefinitionNotSentError);
    expect(definitions.complete(start('td/new:1')).taskDefinition?.taskDefinitionArn).toBe(
      'td/new:1',
    );
  });
});
