export * from './infra';
export * from './hosts';
