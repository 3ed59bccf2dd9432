import { toEcsFailure, toEcsProtectedTask } from '../protocol/shapes';
import { call, checkListSize, invalidParameter, OperationHandler, str } from './operation-context';

const MAX_PROTECTION_MINUTES = 2880;

/**
 * ECS UpdateTaskProtection: 1–10 service tasks protected from scale-in for `expiresInMinutes`
 * (1–2880, default 120; each call restarts the clock) or unprotected. Tasks that are unknown
 * (`MISSING`) or not part of a service (`TASK_NOT_VALID`) are failures, not an error.
 */
export const updateTaskProtection: OperationHandler = async (input, { state }) => {
  const tasks = input.tasks as string[];
  checkListSize('tasks', tasks, 10);
  const minutes = input.expiresInMinutes as number | undefined;
  if (minutes !== undefined && (minutes < 1 || minutes > MAX_PROTECTION_MINUTES)) {
    throw invalidParameter(`expiresInMinutes must be between 1 and ${MAX_PROTECTION_MINUTES}.`);
  }
  const res = await call(
    'state',
    state.updateTaskProtection({
      cluster: str(input.cluster),
      tasks,
      protectionEnabled: input.protectionEnabled === true,
      expiresInMinutes: minutes ?? 0,
    }),
  );
  return {
    protectedTasks: res.protectedTasks.map(toEcsProtectedTask),
    failures: res.failures.map(toEcsFailure),
  };
};

/**
 * ECS GetTaskProtection for 1–100 tasks. The model lets `tasks` be left out; Wharf then
 * answers InvalidParameterException rather than guess which tasks were meant.
 */
export const getTaskProtection: OperationHandler = async (input, { state }) => {
  const tasks = (input.tasks as string[] | undefined) ?? [];
  checkListSize('tasks', tasks, 100);
  const res = await call('state', state.getTaskProtection({ cluster: str(input.cluster), tasks }));
  return {
    protectedTasks: res.protectedTasks.map(toEcsProtectedTask),
    failures: res.failures.map(toEcsFailure),
  };
};
