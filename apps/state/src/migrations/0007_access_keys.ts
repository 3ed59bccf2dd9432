/**
 * Access keys the api authenticates requests with (SigV4, or bearer tokens on /v1). The secret
 * is kept as issued: checking a SigV4 signature needs it (as AWS keeps it), so this table is
 * as sensitive as the keys themselves; nothing ever logs it.
 */
export const accessKeys = `
CREATE TABLE access_keys (
  access_key_id      text PRIMARY KEY,
  secret_access_key  text NOT NULL,
  name               text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  revoked_at         timestamptz
);
`;
