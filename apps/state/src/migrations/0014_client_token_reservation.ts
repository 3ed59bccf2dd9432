/**
 * Which reservation of a RunTask client token is current: a request that takes over a
 * reservation abandoned by a slow one gets a new id, and the slow one's CompleteClientToken
 * or ReleaseClientToken, which still carry the old id, then change nothing.
 */
export const clientTokenReservation = `
ALTER TABLE run_task_client_tokens ADD COLUMN reservation text NOT NULL DEFAULT '';
`;
