/**
 * Outbox payloads as the JSON text that is published, not jsonb. Every change writes its events
 * here and the relay reads them back once: as jsonb, Postgres parsed each event on the way in
 * and rendered it again on the way out (about a fifth of its statements' time under placement
 * load), for a column nothing queries. Inspect with `payload::jsonb ->> 'type'`.
 */
export const outboxTextPayload = `
ALTER TABLE outbox ALTER COLUMN payload TYPE text USING payload::text;
`;
