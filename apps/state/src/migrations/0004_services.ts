/**
 * ECS services, their deployments and events, and named leases (the service scheduler's
 * leadership). A service name is unique in its cluster among services not yet INACTIVE, so
 * a name can be created again once the old service is INACTIVE (as in ECS).
 */
export const services = `
CREATE TABLE services (
  id                                 text PRIMARY KEY,
  cluster                            text NOT NULL REFERENCES clusters (name),
  name                               text NOT NULL,
  arn                                text NOT NULL,
  status                             text NOT NULL DEFAULT 'ACTIVE'
                                       CHECK (status IN ('ACTIVE', 'DRAINING', 'INACTIVE')),
  desired_count                      integer NOT NULL CHECK (desired_count >= 0),
  scheduling_strategy                text NOT NULL CHECK (scheduling_strategy IN ('REPLICA', 'DAEMON')),
  launch_type                        text NOT NULL,
  -- the PRIMARY deployment's
  task_definition_arn                text NOT NULL,
  deployment_configuration           jsonb NOT NULL,
  placement_constraints              jsonb NOT NULL DEFAULT '[]',
  placement_strategy                 jsonb NOT NULL DEFAULT '[]',
  load_balancers                     jsonb NOT NULL DEFAULT '[]',
  tags                               jsonb NOT NULL DEFAULT '[]',
  health_check_grace_period_seconds  integer NOT NULL DEFAULT 0,
  created_at                         timestamptz NOT NULL DEFAULT now(),
  created_by                         text NOT NULL DEFAULT '',
  version                            bigint NOT NULL DEFAULT 1,
  running_count                      integer NOT NULL DEFAULT 0,
  pending_count                      integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX services_live_name ON services (cluster, name) WHERE status <> 'INACTIVE';
CREATE INDEX services_cluster_id ON services (cluster, id);

CREATE TABLE service_deployments (
  id                    text PRIMARY KEY CHECK (id ~ '^ecs-svc/[0-9]{19}$'),
  service_id            text NOT NULL REFERENCES services (id),
  status                text NOT NULL CHECK (status IN ('PRIMARY', 'ACTIVE', 'INACTIVE')),
  task_definition_arn   text NOT NULL,
  desired_count         integer NOT NULL DEFAULT 0,
  pending_count         integer NOT NULL DEFAULT 0,
  running_count         integer NOT NULL DEFAULT 0,
  failed_tasks          integer NOT NULL DEFAULT 0,
  rollout_state         text NOT NULL DEFAULT 'IN_PROGRESS',
  rollout_state_reason  text NOT NULL DEFAULT '',
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  launch_type           text NOT NULL
);
CREATE UNIQUE INDEX service_deployments_one_primary
  ON service_deployments (service_id) WHERE status = 'PRIMARY';
CREATE INDEX service_deployments_service ON service_deployments (service_id, created_at);

CREATE TABLE service_events (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  service_id  text NOT NULL REFERENCES services (id),
  -- events appended in one transaction share created_at; seq keeps their order
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  created_at  timestamptz NOT NULL DEFAULT now(),
  message     text NOT NULL
);
CREATE INDEX service_events_newest ON service_events (service_id, seq DESC);

-- ListServiceTasks: a service's tasks not yet STOPPED
CREATE INDEX tasks_group_live ON tasks (cluster, task_group) WHERE last_status <> 'STOPPED';

CREATE TABLE leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);
`;
