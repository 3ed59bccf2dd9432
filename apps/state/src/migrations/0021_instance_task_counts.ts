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
INSERT INTO instance_task_counts
SELECT container_instance_id, task_group, count(*),
       count(*) FILTER (WHERE last_status = 'RUNNING'),
       count(*) FILTER (WHERE last_status IN ('PROVISIONING', 'PENDING', 'ACTIVATING'))
  FROM tasks WHERE container_instance_id IS NOT NULL AND last_status <> 'STOPPED'
 GROUP BY 1, 2;

CREATE FUNCTION wharf_tasks_counted_ins() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO instance_task_counts AS c (instance_id, task_group, live, running, pending)
  SELECT container_instance_id, task_group,
         count(*) FILTER (WHERE last_status <> 'STOPPED'),
         count(*) FILTER (WHERE last_status = 'RUNNING'),
         count(*) FILTER (WHERE last_status IN ('PROVISIONING', 'PENDING', 'ACTIVATING'))
    FROM new_rows WHERE container_instance_id IS NOT NULL
   GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (instance_id, task_group) DO UPDATE
     SET live = c.live + EXCLUDED.live, running = c.running + EXCLUDED.running,
         pending = c.pending + EXCLUDED.pending;
  RETURN NULL;
END $f$;

CREATE FUNCTION wharf_tasks_counted_upd() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO instance_task_counts AS c (instance_id, task_group, live, running, pending)
  SELECT id, grp, sum(live), sum(running), sum(pending) FROM (
    SELECT container_instance_id AS id, task_group AS grp,
           (last_status <> 'STOPPED')::int AS live, (last_status = 'RUNNING')::int AS running,
           (last_status IN ('PROVISIONING', 'PENDING', 'ACTIVATING'))::int AS pending
      FROM new_rows WHERE container_instance_id IS NOT NULL
    UNION ALL
    SELECT container_instance_id, task_group,
           -(last_status <> 'STOPPED')::int, -(last_status = 'RUNNING')::int,
           -(last_status IN ('PROVISIONING', 'PENDING', 'ACTIVATING'))::int
      FROM old_rows WHERE container_instance_id IS NOT NULL
  ) d GROUP BY id, grp
  HAVING sum(live) <> 0 OR sum(running) <> 0 OR sum(pending) <> 0
  ORDER BY id, grp
  ON CONFLICT (instance_id, task_group) DO UPDATE
     SET live = c.live + EXCLUDED.live, running = c.running + EXCLUDED.running,
         pending = c.pending + EXCLUDED.pending;
  RETURN NULL;
END $f$;

CREATE FUNCTION wharf_tasks_counted_del() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO instance_task_counts AS c (instance_id, task_group, live, running, pending)
  SELECT container_instance_id, task_group,
         -count(*) FILTER (WHERE last_status <> 'STOPPED'),
         -count(*) FILTER (WHERE last_status = 'RUNNING'),
         -count(*) FILTER (WHERE last_status IN ('PROVISIONING', 'PENDING', 'ACTIVATING'))
    FROM old_rows WHERE container_instance_id IS NOT NULL
   GROUP BY 1, 2
  HAVING count(*) FILTER (WHERE last_status <> 'STOPPED') > 0
   ORDER BY 1, 2
  ON CONFLICT (instance_id, task_group) DO UPDATE
     SET live = c.live + EXCLUDED.live, running = c.running + EXCLUDED.running,
         pending = c.pending + EXCLUDED.pending;
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
  RETURN NULL;
END $f$;

CREATE TRIGGER tasks_counted_ins AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wharf_tasks_counted_ins();
CREATE TRIGGER tasks_counted_upd AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wharf_tasks_counted_upd();
CREATE TRIGGER tasks_counted_del AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wharf_tasks_counted_del();
`;
