export * from './logging';
export * from './nest-logger';
export * from './ops-server';
export * from './run-service';
