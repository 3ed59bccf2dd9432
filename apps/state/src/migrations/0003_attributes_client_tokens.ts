/**
 * Custom attributes (set with PutAttributes) beside the ones the agent registers with, so a
 * re-registration replaces the agent's own and keeps the custom ones; and RunTask client
 * tokens: the tasks a request with a token created, kept 24 h for idempotent retries.
 */
export const attributesClientTokens = `
ALTER TABLE container_instances ADD COLUMN custom_attributes jsonb NOT NULL DEFAULT '[]';

CREATE TABLE run_task_client_tokens (
  cluster       text NOT NULL REFERENCES clusters (name),
  client_token  text NOT NULL,
  request_hash  text NOT NULL,
  -- NULL while the owning request is still placing.
  task_arns     jsonb,
  failures      jsonb NOT NULL DEFAULT '[]',
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cluster, client_token)
);
CREATE INDEX run_task_client_tokens_created ON run_task_client_tokens (created_at);
`;
