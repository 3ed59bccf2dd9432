export * from './subjects';
export * from './payloads';
export * from './nats';
export * from './jetstream-publisher';
