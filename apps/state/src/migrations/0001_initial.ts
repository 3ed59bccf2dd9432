/**
 * The first schema. Forward-only: never edit a migration once it has shipped; add a new one.
 * ARNs of clusters and task definitions are derived from their names (region and account come
 * from configuration); tasks and container instances keep the ARN they were created with.
 */
export const initial = `
CREATE TABLE clusters (
  name        text PRIMARY KEY,
  status      text NOT NULL DEFAULT 'ACTIVE',
  tags        jsonb NOT NULL DEFAULT '[]',
  created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO clusters (name) VALUES ('default') ON CONFLICT DO NOTHING;

-- One row per family: the row lock serialises revision numbering.
CREATE TABLE task_definition_families (
  family         text PRIMARY KEY,
  last_revision  integer NOT NULL
);

CREATE TABLE task_definitions (
  family           text NOT NULL REFERENCES task_definition_families (family),
  revision         integer NOT NULL CHECK (revision >= 1),
  status           text NOT NULL DEFAULT 'ACTIVE',
  definition       jsonb NOT NULL,
  tags             jsonb NOT NULL DEFAULT '[]',
  registered_at    timestamptz NOT NULL DEFAULT now(),
  deregistered_at  timestamptz,
  PRIMARY KEY (family, revision)
);

CREATE TABLE container_instances (
  id                      text PRIMARY KEY,
  cluster                 text NOT NULL REFERENCES clusters (name),
  arn                     text NOT NULL UNIQUE,
  ec2_instance_id         text NOT NULL DEFAULT '',
  status                  text NOT NULL DEFAULT 'ACTIVE'
                          CHECK (status IN ('ACTIVE', 'DRAINING', 'INACTIVE')),
  registered_cpu          integer NOT NULL,
  registered_memory       integer NOT NULL,
  registered_ports        integer[] NOT NULL DEFAULT '{}',
  registered_ports_udp    integer[] NOT NULL DEFAULT '{}',
  remaining_cpu           integer NOT NULL CHECK (remaining_cpu >= 0),
  remaining_memory        integer NOT NULL CHECK (remaining_memory >= 0),
  remaining_ports         integer[] NOT NULL DEFAULT '{}',
  remaining_ports_udp     integer[] NOT NULL DEFAULT '{}',
  attributes              jsonb NOT NULL DEFAULT '[]',
  agent_address           text NOT NULL DEFAULT '',
  host_address            text NOT NULL DEFAULT '',
  hostname                text NOT NULL DEFAULT '',
  agent_version           text NOT NULL DEFAULT '',
  docker_version          text NOT NULL DEFAULT '',
  registered_at           timestamptz NOT NULL DEFAULT now(),
  last_heartbeat_at       timestamptz,
  version                 bigint NOT NULL DEFAULT 1
);
CREATE INDEX container_instances_cluster ON container_instances (cluster, id);

CREATE TABLE tasks (
  id                      text PRIMARY KEY,
  arn                     text NOT NULL UNIQUE,
  cluster                 text NOT NULL REFERENCES clusters (name),
  task_definition_arn     text NOT NULL,
  family                  text NOT NULL,
  container_instance_id   text REFERENCES container_instances (id),
  container_instance_arn  text NOT NULL DEFAULT '',
  last_status             text NOT NULL,
  desired_status          text NOT NULL,
  cpu                     integer NOT NULL DEFAULT 0,
  memory                  integer NOT NULL DEFAULT 0,
  host_ports              integer[] NOT NULL DEFAULT '{}',
  host_ports_udp          integer[] NOT NULL DEFAULT '{}',
  task_group              text NOT NULL DEFAULT '',
  started_by              text NOT NULL DEFAULT '',
  launch_type             text NOT NULL DEFAULT 'EC2',
  overrides               jsonb NOT NULL DEFAULT '{}',
  tags                    jsonb NOT NULL DEFAULT '[]',
  -- containers: [{containerArn, name, image, runtimeId, lastStatus, exitCode, reason,
  --   networkBindings, healthStatus, cpu, memory, memoryReservation, essential}]
  containers              jsonb NOT NULL DEFAULT '[]',
  health_status           text NOT NULL DEFAULT 'UNKNOWN',
  version                 bigint NOT NULL DEFAULT 1,
  report_seq              bigint NOT NULL DEFAULT 0,
  stop_code               text,
  stopped_reason          text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  pull_started_at         timestamptz,
  pull_stopped_at         timestamptz,
  started_at              timestamptz,
  stopping_at             timestamptz,
  stopped_at              timestamptz,
  execution_stopped_at    timestamptz
);
CREATE INDEX tasks_cluster ON tasks (cluster, id);
CREATE INDEX tasks_instance_live ON tasks (container_instance_id) WHERE last_status <> 'STOPPED';

CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  subject       text NOT NULL,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
`;
