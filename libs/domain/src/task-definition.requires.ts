import type { TaskDefinitionInput } from './task-definition.types';

/** The agent capabilities that task definition features need (announced by Wharf agents). */
export const CAPABILITIES = {
  healthCheck: 'ecs.capability.container-health-check',
  containerOrdering: 'ecs.capability.container-ordering',
  taskCpuMemLimit: 'ecs.capability.task-cpu-mem-limit',
} as const;

/**
 * What RegisterTaskDefinition derives as `requiresAttributes`, as ECS does: one attribute per
 * agent capability the definition uses — container health checks, container dependencies
 * (dependsOn), task-level cpu/memory limits. Placement then only considers instances whose
 * agents announce them (failure reason ATTRIBUTE), so a task never lands on an agent that
 * cannot run it faithfully. In ECS order of first use, each named once.
 */
export function requiredAttributesOf(definition: TaskDefinitionInput): { name: string }[] {
  const names = new Set<string>();
  const containers = definition.containerDefinitions ?? [];
  if (containers.some((c) => c.healthCheck)) names.add(CAPABILITIES.healthCheck);
  if (containers.some((c) => (c.dependsOn ?? []).length > 0)) {
    names.add(CAPABILITIES.containerOrdering);
  }
  if (definition.cpu !== undefined || definition.memory !== undefined) {
    names.add(CAPABILITIES.taskCpuMemLimit);
  }
  return [...names].map((name) => ({ name }));
}
