import { requiredAttributesOf } from './task-definition.requires';

describe('requiredAttributesOf', () => {
  it('needs nothing for a plain container', () => {
    expect(
      requiredAttributesOf({ family: 'f', containerDefinitions: [{ name: 'a', image: 'i' }] }),
    ).toEqual([]);
  });

  it('names each capability the definition uses, once', () => {
    expect(
      requiredAttributesOf({
        family: 'f',
        memory: '512',
        containerDefinitions: [
          { name: 'a', image: 'i', healthCheck: { command: ['CMD', 'true'] } },
          { name: 'b', image: 'i', healthCheck: { command: ['CMD', 'true'] } },
          { name: 'c', image: 'i', dependsOn: [{ containerName: 'a', condition: 'HEALTHY' }] },
        ],
      }),
    ).toEqual([
      { name: 'ecs.capability.container-health-check' },
      { name: 'ecs.capability.container-ordering' },
      { name: 'ecs.capability.task-cpu-mem-limit' },
    ]);
  });
});
