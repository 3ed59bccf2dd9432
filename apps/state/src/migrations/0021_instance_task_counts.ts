/**
 * Each instance's tasks counted where a commit can read them: live (not STOPPED), RUNNING and
 * pending (PROVISIONING, PENDING, ACTIVATING) tasks per task group, in
 * `instance_task_counts`. A commit answers and announces every instance it places on with its
 * counts and task groups, and counting them from `tasks` visited each task of the instance
 * (and its dead versions) on the heap: ~50 µs of Postgres per instance, the largest statement
 * under random placement. Statement-level triggers on `tasks` keep the counts, whatever
 * statement changes a task (one aggregated upsert per statement, rows in (instance, group)
 * order, so concurrent statements lock them in the same order). A transaction that takes an
 * instance's row lock takes it before it changes that instance's tasks' statuses, so a counts
 * row is never held while waiting for an instance (see the report and stop paths).
 */
export const instanceTaskCounts = `
CREATE TABLE instance_task_counts (
  instance_id text NOT NULL,
  task_group  text NOT NULL,
  live        integer NOT NULL DEFAULT 0,
  running     integer NOT NULL DEFAULT 0,
  pending     integer NOT NULL DEFAULT 0,
  PRIMARY KEY (instance_id, task_group)
);
-- What one task adds to its instance's counts (sign -1: takes away).
CREATE FUNCTION wharf_task_counted(status text, sign integer,
                                   OUT live integer, OUT running integer, OUT pending integer)
  LANGUAGE sql IMMUTABLE AS $f$
  SELECT sign * (status <> 'STOPPED')::int, sign * (status = 'RUNNING')::int,
         sign * (status IN ('PROVISIONING', 'PENDING', 'ACTIVATING'))::int
$f$;

-- Adds per-task deltas to the counts: one upsert, rows locked in (instance, group) order.
CREATE FUNCTION wharf_add_task_counts(ids text[], grps text[], lives integer[],
                                      runnings integer[], pendings integer[])
  RETURNS void LANGUAGE sql AS $f$
  INSERT INTO instance_task_counts AS c (instance_id, task_group, live, running, pending)
  SELECT id, grp, sum(l), sum(r), sum(p)
    FROM unnest(ids, grps, lives, runnings, pendings) AS d(id, grp, l, r, p)
   GROUP BY id, grp
  HAVING sum(l) <> 0 OR sum(r) <> 0 OR sum(p) <> 0
   ORDER BY id, grp
  ON CONFLICT (instance_id, task_group) DO UPDATE
     SET live = c.live + EXCLUDED.live, running = c.running + EXCLUDED.running,
         pending = c.pending + EXCLUDED.pending
$f$;

-- One function for the three triggers: each reads only the transition tables its event has.
CREATE FUNCTION wharf_tasks_counted() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM wharf_add_task_counts(array_agg(t.container_instance_id), array_agg(t.task_group),
                                  array_agg(c.live), array_agg(c.running), array_agg(c.pending))
       FROM new_rows t, wharf_task_counted(t.last_status, 1) c
      WHERE t.container_instance_id IS NOT NULL;
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM wharf_add_task_counts(array_agg(t.id), array_agg(t.grp),
                                  array_agg(c.live), array_agg(c.running), array_agg(c.pending))
       FROM (SELECT container_instance_id AS id, task_group AS grp, last_status, 1 AS sign
               FROM new_rows
             UNION ALL
             SELECT container_instance_id, task_group, last_status, -1 FROM old_rows) t,
            wharf_task_counted(t.last_status, t.sign) c
      WHERE t.id IS NOT NULL;
  ELSE
    PERFORM wharf_add_task_counts(array_agg(t.container_instance_id), array_agg(t.task_group),
                                  array_agg(c.live), array_agg(c.running), array_agg(c.pending))
       FROM old_rows t, wharf_task_counted(t.last_status, -1) c
      WHERE t.container_instance_id IS NOT NULL;
    -- Tasks are deleted once STOPPED long enough: what counted their groups goes with them
    -- (the rows locked in order, as the upserts lock them).
    DELETE FROM instance_task_counts c
     WHERE (c.instance_id, c.task_group) IN (
             SELECT z.instance_id, z.task_group
               FROM instance_task_counts z
               JOIN (SELECT DISTINCT container_instance_id AS id, task_group AS grp
                       FROM old_rows WHERE container_instance_id IS NOT NULL) k
                 ON z.instance_id = k.id AND z.task_group = k.grp
              WHERE z.live = 0 AND z.running = 0 AND z.pending = 0
              ORDER BY 1, 2
                FOR UPDATE OF z)
       AND c.live = 0 AND c.running = 0 AND c.pending = 0;
  END IF;
  RETURN NULL;
END $f$;

-- The tasks already there.
SELECT wharf_add_task_counts(array_agg(t.container_instance_id), array_agg(t.task_group),
                             array_agg(c.live), array_agg(c.running), array_agg(c.pending))
  FROM tasks t, wharf_task_counted(t.last_status, 1) c
 WHERE t.container_instance_id IS NOT NULL AND t.last_status <> 'STOPPED';

CREATE TRIGGER tasks_counted_ins AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wharf_tasks_counted();
CREATE TRIGGER tasks_counted_upd AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wharf_tasks_counted();
CREATE TRIGGER tasks_counted_del AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wharf_tasks_counted();
`;
