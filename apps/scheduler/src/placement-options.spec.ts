import { InvalidParameterError } from '@wharf/domain';
import { compileRequestOptions } from './placement-options';

const compile = (constraints?: unknown, strategy?: unknown, fromTd?: unknown[]) =>
  compileRequestOptions({
    constraintsJson: constraints === undefined ? '' : JSON.stringify(constraints),
    strategyJson: strategy === undefined ? '' : JSON.stringify(strategy),
    definition: { family: 'web', containerDefinitions: [], placementConstraints: fromTd as never },
  });

describe('compileRequestOptions', () => {
  it('compiles the ECS shapes, task definition constraints first, random by default', () => {
    const options = compile(
      [{ type: 'distinctInstance' }, { type: 'memberOf', expression: 'attribute:stack == prod' }],
      [
        { type: 'spread', field: 'attribute:ecs.availability-zone' },
        { type: 'binpack', field: 'MEMORY' },
      ],
      [{ type: 'memberOf', expression: 'agentConnected == true' }],
    );
    expect(options.constraints.map((c) => c.type)).toEqual([
      'memberOf',
      'distinctInstance',
      'memberOf',
    ]);
    expect(options.memberOf.map((c) => c.source)).toEqual(['taskDefinition', 'request']);
    expect(options.distinctInstance).toBe(true);
    expect(options.strategies).toEqual([
      { type: 'spread', field: 'attribute', attribute: 'ecs.availability-zone' },
      { type: 'binpack', field: 'memory' },
    ]);
    expect(compile().strategies).toEqual([{ type: 'random' }]);
  });

  it.each([
    ['{', undefined, 'placementConstraints is not valid JSON'],
    [{ type: 'memberOf' }, undefined, 'placementConstraints must be a list'],
    [[1], undefined, 'placementConstraints[0] must be an object'],
    [[{ type: 'memberOf', expression: 7 }], undefined, 'placementConstraints[0].expression'],
    [undefined, [{ type: 'binpack', field: 1 }], 'placementStrategy[0].field must be a string'],
    [[{ type: 'sometimes' }], undefined, 'unknown type'],
    [[{ type: 'memberOf', expression: 'attribute:x ==' }], undefined, 'at position'],
    [undefined, [{ type: 'binpack', field: 'ports' }], 'cpu or memory'],
  ])('refuses %j %j', (constraints, strategy, message) => {
    const run = () =>
      typeof constraints === 'string'
        ? compileRequestOptions({
            constraintsJson: constraints,
            definition: { family: 'web', containerDefinitions: [] },
          })
        : compile(constraints, strategy);
    expect(run).toThrow(InvalidParameterError);
    expect(run).toThrow(message);
  });
});
