export * from './arn';
export * from './lifecycle';
export * from './resources';
export * from './task-definition.types';
export * from './errors';
export * from './task-definition.validate';
export * from './placement';
export * from './task-definition.requires';
