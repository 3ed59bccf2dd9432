/**
 * Load balancer resources (load balancers, listeners, rules, target groups: their normalized
 * specs, libs/domain/src/elb) and the targets of target groups. The uniqueness ELBv2 promises
 * is enforced here: load balancer names, target group names, listener ports (over every load
 * balancer: each lb replica binds every listener's port) and rule priorities per listener.
 * A listener's or rule's parent must exist (parent_arn); deletes of parents are done child
 * first by state, so that each deleted resource gets its event.
 */
export const loadBalancers = `
CREATE TABLE lb_resources (
  arn         text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('load-balancer', 'listener', 'rule', 'target-group')),
  name        text NOT NULL DEFAULT '',
  parent_arn  text REFERENCES lb_resources (arn),
  spec        jsonb NOT NULL,
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind IN ('listener', 'rule')) = (parent_arn IS NOT NULL))
);
CREATE UNIQUE INDEX lb_resources_load_balancer_name ON lb_resources (name)
  WHERE kind = 'load-balancer';
CREATE UNIQUE INDEX lb_resources_target_group_name ON lb_resources (name)
  WHERE kind = 'target-group';
CREATE UNIQUE INDEX lb_resources_listener_port ON lb_resources (((spec ->> 'port')::integer))
  WHERE kind = 'listener';
CREATE UNIQUE INDEX lb_resources_rule_priority
  ON lb_resources (parent_arn, ((spec ->> 'priority')::integer)) WHERE kind = 'rule';
CREATE INDEX lb_resources_parent ON lb_resources (parent_arn, created_at);
CREATE INDEX lb_resources_kind ON lb_resources (kind, created_at);

CREATE TABLE lb_targets (
  target_group_arn  text NOT NULL REFERENCES lb_resources (arn),
  id                text NOT NULL,
  port              integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  host              text NOT NULL,
  task_arn          text NOT NULL DEFAULT '',
  service_arn       text NOT NULL DEFAULT '',
  state             text NOT NULL CHECK (state IN
                      ('initial', 'healthy', 'unhealthy', 'unused', 'draining', 'unavailable')),
  reason            text NOT NULL DEFAULT '',
  description       text NOT NULL DEFAULT '',
  registered_at     timestamptz NOT NULL DEFAULT now(),
  draining_since    timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  version           bigint NOT NULL DEFAULT 1,
  PRIMARY KEY (target_group_arn, id, port),
  CHECK ((state = 'draining') = (draining_since IS NOT NULL))
);
CREATE INDEX lb_targets_draining ON lb_targets (draining_since) WHERE state = 'draining';
`;
