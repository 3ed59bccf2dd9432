export * from './elb.types';
export * from './elb.arn';
export * from './elb.validate';
