/**
 * Outbox payloads compressed with lz4 rather than pglz. A batch of events is kilobytes of
 * JSON, so Postgres compresses it on the way in; the relay reads it once and deletes it. With
 * pglz that compression was the largest single function in Postgres under placement load
 * (about 4% of its CPU); lz4 is several times faster both ways at a similar size.
 */
export const outboxLz4 = `
ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION lz4;
`;
