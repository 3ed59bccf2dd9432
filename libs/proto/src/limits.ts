/**
 * The largest gRPC message a Wharf service or client takes (grpc-js's default is 4 MiB). A
 * service's tasks (ECS allows 5,000, each about 1 KiB with its containers), a page of a large
 * cluster's instances or every target of the load balancers go in one answer.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
