/**
 * The join token each container instance was admitted with (NULL: registered while agents
 * joined without one). A returning instance may present its own token after that token
 * expired — a restart must not cost a host its place — but never another's, nor a revoked one.
 */
export const instanceJoinToken = `
ALTER TABLE container_instances ADD COLUMN join_token_id text;
`;
