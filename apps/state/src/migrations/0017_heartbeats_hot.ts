/**
 * Heartbeats as in-place (HOT) updates. Every agent writes its instance's last_heartbeat_at
 * every 2 s; with that column indexed, each heartbeat wrote a whole new row version and an
 * entry in every index of container_instances (1,000 hosts: 500 such writes a second, and a
 * table and indexes that bloat and slow the placement commits reading the same rows). The
 * index served only the liveness sweep, which now reads the table: a few thousand narrow
 * checks per sweep at ECS's 5,000 instances a cluster. Room left on each page (fillfactor) lets
 * heartbeats and placements rewrite a row on its own page.
 */
export const heartbeatsHot = `
DROP INDEX container_instances_connected;
ALTER TABLE container_instances SET (fillfactor = 50);
`;
