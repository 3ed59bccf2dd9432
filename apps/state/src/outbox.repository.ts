import type { PoolClient } from 'pg';
import { clusterNameOf, elbTargetKey } from '@wharf/domain';
import { ELB_EVENT_SCOPE, EventEntity, subjects, WharfEvent } from '@wharf/messaging';
import type { common, stateV1 } from '@wharf/proto';

/** Events per INSERT at most (bounds one statement's size and time). */
const EVENTS_PER_STATEMENT = 5_000;
/**
 * A batch message (the events of one statement on one subject) holds at most this many
 * characters of event JSON; more starts another. A character is at most 3 bytes in UTF-8, so a
 * batch stays under 768 KiB, below NATS's max_payload (1 MiB by default); counting characters
 * spares a scan of every event for its byte length.
 */
const BATCH_CHARS = 256 * 1024;
/**
 * Between the events (and subjects) of one INSERT's parameters: U+001E, which JSON.stringify
 * never writes unescaped (control characters in strings become \u001e) and a subject never holds.
 */
const SEPARATOR = '\u001e';

export interface DomainEvent {
  cluster: string;
  entity: EventEntity;
  /** e.g. `created`, `changed`; the event type on the wire is `<entity>.<event>`. */
  event: string;
  resourceArn: string;
  version: number;
  detail: unknown;
}

/** Events appended: each one's id, and the messages (outbox rows) they went into. */
export interface AppendedEvents {
  /** In the order given. */
  ids: string[];
  /** `id` is the msgID the relay publishes the message with (its first event's id). */
  messages: { id: string; subject: string }[];
}

export interface OutboxRow {
  id: string;
  subject: string;
  /** The event as JSON text, ready to publish (stored so: nothing re-encodes it). */
  payload: string;
}

/**
 * The outbox: every change appends its event here in the same transaction, and the relay
 * publishes rows in id order with msgID = id (so a re-publish is deduplicated by JetStream).
 */
export class OutboxRepository {
  /** A `container_instance.changed` event for each instance, as the gRPC API returns it. */
  async appendInstancesChanged(
    tx: PoolClient,
    instances: readonly common.ContainerInstance[],
  ): Promise<void> {
    await this.appendMany(tx, instances.map(instanceChanged));
  }

  /** Appends one event; its `id` is the outbox row id. Call inside the writing transaction. */
  async append(tx: PoolClient, e: DomainEvent): Promise<string> {
    const [id] = await this.appendMany(tx, [e]);
    return id;
  }

  /**
   * Appends events in as few statements as possible (EVENTS_PER_STATEMENT each); their ids
   * follow the order given. Returns the ids in that order. Call inside the writing transaction.
   *
   * The events of one statement on the same subject become one row, and so one message: a
   * `WharfEventBatch` in the order given (up to BATCH_CHARS each), or the event itself when it
   * is alone. Each event still draws its own id; a row's id is its first event's. Rows follow
   * their subjects' first events, so events on different subjects of one statement may be
   * published in another order than given (they were committed together anyway).
   *
   * Each event goes to Postgres as its JSON text without `v`, `id` and the opening brace (the
   * events of a statement joined by SEPARATOR into one parameter), and the statement puts them
   * in front once the event's id is drawn: nothing is parsed as JSON, or scanned (substr
   * counts characters), on the way in or rendered on the way out (the relay reads the text
   * back).
   */
  async appendMany(tx: PoolClient, events: readonly DomainEvent[]): Promise<string[]> {
    return (await this.appendEvents(tx, events)).ids;
  }

  /** As `appendMany`, also saying which messages the events went into. */
  async appendEvents(tx: PoolClient, events: readonly DomainEvent[]): Promise<AppendedEvents> {
    const appended: AppendedEvents = { ids: [], messages: [] };
    for (let from = 0; from < events.length; from += EVENTS_PER_STATEMENT) {
      const part = await this.insert(tx, events.slice(from, from + EVENTS_PER_STATEMENT));
      appended.ids.push(...part.ids);
      appended.messages.push(...part.messages);
    }
    return appended;
  }

  private async insert(tx: PoolClient, events: readonly DomainEvent[]): Promise<AppendedEvents> {
    const at = Date.now();
    const groupOf: number[] = [];
    const subjectOf: string[] = [];
    const bodyOf: string[] = [];
    // The row (group) each event goes to: one per subject, until it holds BATCH_CHARS.
    const open = new Map<string, { group: number; chars: number }>();
    let groups = 0;
    for (const e of events) {
      const body: Omit<WharfEvent, 'v' | 'id'> = {
        type: `${e.entity}.${e.event}`,
        cluster: e.cluster,
        resourceArn: e.resourceArn,
        version: e.version,
        at,
        detail: e.detail,
      };
      const subject = subjects.event(e.cluster, e.entity, e.event);
      const text = JSON.stringify(body);
      let group = open.get(subject);
      if (!group || group.chars + text.length > BATCH_CHARS) {
        open.set(subject, (group = { group: groups++, chars: 0 }));
      }
      group.chars += text.length;
      groupOf.push(group.group);
      subjectOf.push(subject);
      // Without its opening brace: the statement puts `{"v":1,"id":"…",` in its place.
      bodyOf.push(text.slice(1));
    }
    // One text whatever the number of events, prepared once per connection: a VALUES list per
    // event made a new statement for Postgres to parse and plan every time. Subjects and bodies
    // go as one text each, joined by SEPARATOR (as text[] parameters every quote of the JSON
    // would be escaped on the way in and unescaped by Postgres).
    // nextval is taken in the outer query, over the rows already sorted by position, from the
    // sequence named outright (pg_get_serial_sequence looked it up again for every event). The
    // INSERT runs whether or not the final SELECT reads it.
    const { rows: inserted } = await tx.query<{ id: string }>({
      name: 'wharf_outbox_append',
      text: `WITH e AS (
         SELECT nextval('outbox_id_seq') AS id,
                s.grp, s.subject, s.body, s.ord
           FROM (SELECT * FROM unnest($1::int[], string_to_array($2, chr(30)),
                                      string_to_array($3, chr(30))) WITH ORDINALITY
                          AS x(grp, subject, body, ord)
                  ORDER BY x.ord) s
       ), ev AS (
         SELECT e.id, e.grp, e.subject, e.ord,
                '{"v":1,"id":"' || e.id || '",' || e.body AS event
           FROM e
       ), ins AS (
         INSERT INTO outbox (id, subject, payload)
         SELECT min(ev.id), min(ev.subject),
                CASE WHEN count(*) = 1 THEN min(ev.event)
                     ELSE '{"v":1,"id":"' || min(ev.id) || '","events":['
                          || string_agg(ev.event, ',' ORDER BY ev.ord) || ']}'
                END
           FROM ev GROUP BY ev.grp
       )
       SELECT e.id::text AS id FROM e ORDER BY e.ord`,
      values: [groupOf, subjectOf.join(SEPARATOR), bodyOf.join(SEPARATOR)],
    });
    const ids = inserted.map((r) => r.id);
    // Ids grow in the order given, so a row's id (its smallest) is its first event's.
    const messages: AppendedEvents['messages'] = [];
    groupOf.forEach((group, i) => {
      if (group === messages.length) messages.push({ id: ids[i], subject: subjectOf[i] });
    });
    return { ids, messages };
  }

  /**
   * The oldest unpublished rows, in id order. `ORDER BY outbox.id`, not `id`: the output column
   * `id` is text, and ordering by it put id 10 before 9 and made Postgres read and sort every
   * unpublished row instead of walking the partial index and stopping at `limit`.
   */
  async unpublished(tx: PoolClient, limit: number): Promise<OutboxRow[]> {
    const { rows } = await tx.query<OutboxRow>({
      name: 'wharf_outbox_unpublished',
      text: `SELECT id::text AS id, subject, payload FROM outbox
        WHERE published_at IS NULL ORDER BY outbox.id LIMIT $1`,
      values: [limit],
    });
    return rows;
  }

  async markPublished(tx: PoolClient, ids: string[]): Promise<void> {
    await tx.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [ids]);
  }

  /** Deletes published rows at once (no retention): cheaper than marking them and pruning. */
  async deletePublished(tx: PoolClient, ids: string[]): Promise<void> {
    await tx.query({
      name: 'wharf_outbox_delete_published',
      text: 'DELETE FROM outbox WHERE id = ANY($1::bigint[])',
      values: [ids],
    });
  }

  /**
   * Deletes at most `limit` rows published more than `olderThanMs` ago, oldest first (so one
   * statement stays short however large the backlog); returns how many.
   */
  async prunePublished(tx: PoolClient, olderThanMs: number, limit: number): Promise<number> {
    const { rowCount } = await tx.query(
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox
          WHERE published_at IS NOT NULL
            AND published_at < now() - make_interval(secs => $1::double precision / 1000)
          ORDER BY id
          LIMIT $2)`,
      [olderThanMs, limit],
    );
    return rowCount ?? 0;
  }
}

/** The `task.changed` event of a task record. */
export function taskChanged(task: common.Task): DomainEvent {
  return {
    cluster: clusterNameOf(task.clusterArn),
    entity: 'task',
    event: 'changed',
    resourceArn: task.taskArn,
    version: task.version,
    detail: task,
  };
}

/** The `container_instance.changed` event of an instance record. */
export function instanceChanged(instance: common.ContainerInstance): DomainEvent {
  return {
    cluster: clusterNameOf(instance.clusterArn),
    entity: 'container_instance',
    event: 'changed',
    resourceArn: instance.containerInstanceArn,
    version: instance.version,
    detail: instance,
  };
}

/** A `service.<created|updated|deleted>` event carrying the service as the gRPC API returns it. */
export function serviceEvent(
  event: 'created' | 'updated' | 'deleted',
  service: common.Service,
): DomainEvent {
  return {
    cluster: clusterNameOf(service.clusterArn),
    entity: 'service',
    event,
    resourceArn: service.serviceArn,
    version: service.version,
    detail: service,
  };
}

/** An `lb_resource.<changed|deleted>` event (scope ELB_EVENT_SCOPE) carrying the resource. */
export function lbResourceEvent(
  event: 'changed' | 'deleted',
  resource: stateV1.LbResource,
): DomainEvent {
  return {
    cluster: ELB_EVENT_SCOPE,
    entity: 'lb_resource',
    event,
    resourceArn: resource.arn,
    version: resource.version,
    detail: resource,
  };
}

/**
 * A `target.<changed|deleted>` event (scope ELB_EVENT_SCOPE) carrying the target; targets have
 * no ARN, so `resourceArn` is elbTargetKey (group, id and port).
 */
export function targetEvent(event: 'changed' | 'deleted', target: stateV1.LbTarget): DomainEvent {
  return {
    cluster: ELB_EVENT_SCOPE,
    entity: 'target',
    event,
    resourceArn: elbTargetKey(target.targetGroupArn, target.id, target.port),
    version: target.version,
    detail: target,
  };
}
