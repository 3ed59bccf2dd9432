export * from './query-language';
export * from './options';
export * from './random';
export * from './planner';
