import { InvalidParameterError } from '../errors';
import { compilePlacementOptions, strategyLabel } from './options';

describe('compilePlacementOptions', () => {
  it('defaults to random (RunTask) and takes another default', () => {
    expect(compilePlacementOptions({}).strategies).toEqual([{ type: 'random' }]);
    expect(compilePlacementOptions({ strategy: [] }).strategies).toEqual([{ type: 'random' }]);
    expect(
      compilePlacementOptions({
        defaultStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }],
      }).strategies,
    ).toEqual([{ type: 'spread', field: 'attribute', attribute: 'ecs.availability-zone' }]);
  });

  it('compiles every strategy type and field', () => {
    const { strategies } = compilePlacementOptions({
      strategy: [
        { type: 'spread', field: 'attribute:ecs.availability-zone' },
        { type: 'spread', field: 'host' },
        { type: 'binpack', field: 'memory' },
        { type: 'binpack', field: 'CPU' },
        { type: 'random', field: 'ignored' },
      ],
    });
    expect(strategies.map(strategyLabel)).toEqual([
      'spread(attribute:ecs.availability-zone)',
      'spread(instanceId)',
      'binpack(memory)',
      'binpack(cpu)',
      'random',
    ]);
  });

  it.each([
    [{ strategy: Array(6).fill({ type: 'random' }) }, /at most 5/],
    [{ strategy: [{ type: 'binpack', field: 'disk' }] }, /binpack field must be cpu or memory/],
    [{ strategy: [{ type: 'binpack' }] }, /binpack field must be cpu or memory/],
    [{ strategy: [{ type: 'spread', field: 'zone' }] }, /spread field must be instanceId/],
    [{ strategy: [{ type: 'spread', field: 'attribute:' }] }, /spread field/],
    [{ strategy: [{ type: 'roundrobin' }] }, /unknown type 'roundrobin'/],
    [{ constraints: [{ type: 'memberOf' }] }, /memberOf requires an expression/],
    [
      { constraints: [{ type: 'distinctInstance', expression: 'agentConnected == true' }] },
      /cannot be given for a distinctInstance/,
    ],
    [{ constraints: [{ type: 'sameZone' }] }, /unknown type 'sameZone'/],
    [
      { constraints: [{ type: 'memberOf', expression: 'attribute:a =' }] },
      /^memberOf expression: unexpected '=' at position 12/,
    ],
    [
      {
        taskDefinitionConstraints: Array(4).fill({
          type: 'memberOf',
          expression: 'attribute:a exists',
        }),
        constraints: Array(7).fill({ type: 'distinctInstance' }),
      },
      /Too many placement constraints: 11/,
    ],
  ])('refuses %j', (input, message) => {
    expect(() => compilePlacementOptions(input)).toThrow(InvalidParameterError);
    expect(() => compilePlacementOptions(input)).toThrow(message);
  });

  it('applies the task definition constraints and the request constraints together', () => {
    const compiled = compilePlacementOptions({
      taskDefinitionConstraints: [{ type: 'memberOf', expression: 'attribute:a exists' }],
      constraints: [
        { type: 'memberOf', expression: 'attribute:b exists' },
        { type: 'distinctInstance' },
      ],
    });
    expect(compiled.memberOf.map((c) => [c.source, c.query.expression])).toEqual([
      ['taskDefinition', 'attribute:a exists'],
      ['request', 'attribute:b exists'],
    ]);
    expect(compiled.distinctInstance).toBe(true);
    expect(compiled.constraints).toHaveLength(3);
  });

  it('takes exactly 10 constraints and 5 strategies', () => {
    expect(() =>
      compilePlacementOptions({
        taskDefinitionConstraints: Array(5).fill({
          type: 'memberOf',
          expression: 'attribute:a exists',
        }),
        constraints: Array(5).fill({ type: 'distinctInstance' }),
        strategy: Array(5).fill({ type: 'spread', field: 'instanceId' }),
      }),
    ).not.toThrow();
  });
});
