export * from './infra';
export * from './hosts';
export * from './topology';
