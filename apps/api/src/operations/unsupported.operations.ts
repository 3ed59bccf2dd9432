import { EcsApiError } from '../protocol/ecs-errors';
import { ECS_ALL_OPERATIONS } from '../protocol/ecs-model.generated';

/**
 * Why each ECS operation Wharf does not serve means nothing here, by family. Every operation
 * of the model is either served (OPERATIONS) or named here; a unit
 * test keeps it so as the model changes.
 */
const CAPACITY_PROVIDERS =
  'there are no Auto Scaling groups or Fargate here; capacity is the container instances that register.';
const TASK_SETS =
  'task sets belong to the EXTERNAL and CODE_DEPLOY deployment controllers; Wharf services deploy only by the rolling update (the ECS controller).';
const AGENT_PROTOCOL =
  "this is the ECS container agent's own API; Wharf's agent registers and reports to the state service over gRPC and NATS.";

export const UNSUPPORTED_REASONS: Record<string, string> = {
  CreateCapacityProvider: CAPACITY_PROVIDERS,
  DeleteCapacityProvider: CAPACITY_PROVIDERS,
  DescribeCapacityProviders: CAPACITY_PROVIDERS,
  UpdateCapacityProvider: CAPACITY_PROVIDERS,
  PutClusterCapacityProviders: CAPACITY_PROVIDERS,
  CreateTaskSet: TASK_SETS,
  DeleteTaskSet: TASK_SETS,
  DescribeTaskSets: TASK_SETS,
  UpdateTaskSet: TASK_SETS,
  UpdateServicePrimaryTaskSet: TASK_SETS,
  ListServicesByNamespace:
    "there are no Cloud Map namespaces (no Service Connect); list a cluster's services with ListServices.",
  ExecuteCommand:
    'there is no ECS Exec (no SSM agent runs beside the tasks); use `docker exec` on the container instance.',
  RegisterContainerInstance: AGENT_PROTOCOL,
  DiscoverPollEndpoint: AGENT_PROTOCOL,
  SubmitTaskStateChange: AGENT_PROTOCOL,
  SubmitContainerStateChange: AGENT_PROTOCOL,
  SubmitAttachmentStateChanges:
    'there are no attachments (awsvpc network interfaces, Service Connect, managed EBS volumes), and agents report over gRPC and NATS.',
  UpdateContainerAgent:
    'the agent is updated by deploying a new Wharf agent image on the host; there is no in-place agent update.',
};

/**
 * The answer for an operation of the ECS model that Wharf does not serve: its reason, as
 * UnsupportedFeatureException where the operation declares it, else ClientException (every
 * ECS operation declares that). Undefined for names outside the model.
 */
export function unsupportedOperation(operation: string): EcsApiError | undefined {
  if (!Object.hasOwn(ECS_ALL_OPERATIONS, operation)) return undefined;
  const reason = Object.hasOwn(UNSUPPORTED_REASONS, operation)
    ? UNSUPPORTED_REASONS[operation]
    : 'it has no meaning here.';
  const type = ECS_ALL_OPERATIONS[operation].errors.includes('UnsupportedFeatureException')
    ? 'UnsupportedFeatureException'
    : 'ClientException';
  return new EcsApiError(type, `${operation} is not supported by Wharf: ${reason}`);
}
