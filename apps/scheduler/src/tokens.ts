/** Nest injection tokens of the scheduler. */
export const STATE_CLIENT = Symbol('STATE_CLIENT');
export const LOGGER = Symbol('LOGGER');
export const SCHEDULER_CONFIG = Symbol('SCHEDULER_CONFIG');
/** The placement planner (see planner.ts). */
export const PLANNER = Symbol('PLANNER');
