/**
 * Join tokens agents register with (STATE_AGENT_JOIN=token). Only a hash of each token's
 * secret is kept (SHA-256 of `<id>:<secret>`): the token itself is shown once, at creation.
 * `cluster` NULL means any cluster.
 */
export const joinTokens = `
CREATE TABLE join_tokens (
  join_token_id  text PRIMARY KEY,
  secret_hash    text NOT NULL,
  cluster        text,
  description    text NOT NULL DEFAULT '',
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz,
  revoked_at     timestamptz,
  last_used_at   timestamptz
);
`;
