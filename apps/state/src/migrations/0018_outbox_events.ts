/**
 * A row of the outbox is one message: one event, or a batch of the events one statement wrote
 * on one subject (`{"v":1,"id":…,"events":[…]}`). This view has one row per event, whichever
 * it is — `id` the event's, `row_id` the message's, `payload` the event as jsonb — for anyone
 * inspecting what was written: `SELECT payload ->> 'type' FROM outbox_events ORDER BY id`.
 */
export const outboxEvents = `
CREATE VIEW outbox_events AS
SELECT (ev.payload ->> 'id')::bigint AS id, o.id AS row_id, o.subject, ev.payload, o.published_at
  FROM outbox o
  CROSS JOIN LATERAL (SELECT o.payload::jsonb AS message) m
  CROSS JOIN LATERAL jsonb_array_elements(
         CASE WHEN m.message ? 'events' THEN m.message -> 'events'
              ELSE jsonb_build_array(m.message) END) AS ev(payload);
`;
