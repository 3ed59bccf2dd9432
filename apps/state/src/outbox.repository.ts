import type { PoolClient } from 'pg';
import { clusterNameOf } from '@wharf/domain';
import { EventEntity, subjects, WharfEvent } from '@wharf/messaging';
import type { common } from '@wharf/proto';

export interface DomainEvent {
  cluster: string;
  entity: EventEntity;
  /** e.g. `created`, `changed`; the event type on the wire is `<entity>.<event>`. */
  event: string;
  resourceArn: string;
  version: number;
  detail: unknown;
}

export interface OutboxRow {
  id: string;
  subject: string;
  payload: WharfEvent;
}

/**
 * The outbox: every change appends its event here in the same transaction, and the relay
 * publishes rows in id order with msgID = id (so a re-publish is deduplicated by JetStream).
 */
export class OutboxRepository {
  /** Appends one event; its `id` is the outbox row id. Call inside the writing transaction. */
  /** A `container_instance.changed` event for each instance, as the gRPC API returns it. */
  async appendInstancesChanged(
    tx: PoolClient,
    instances: readonly common.ContainerInstance[],
  ): Promise<void> {
    for (const instance of instances) {
      await this.append(tx, {
        cluster: clusterNameOf(instance.clusterArn),
        entity: 'container_instance',
        event: 'changed',
        resourceArn: instance.containerInstanceArn,
        version: instance.version,
        detail: instance,
      });
    }
  }

  async append(tx: PoolClient, e: DomainEvent): Promise<string> {
    const payload: Omit<WharfEvent, 'id'> = {
      v: 1,
      type: `${e.entity}.${e.event}`,
      cluster: e.cluster,
      resourceArn: e.resourceArn,
      version: e.version,
      at: Date.now(),
      detail: e.detail,
    };
    const { rows } = await tx.query<{ id: string }>(
      `WITH n AS (SELECT nextval(pg_get_serial_sequence('outbox', 'id')) AS id)
       INSERT INTO outbox (id, subject, payload)
       SELECT n.id, $1, jsonb_set($2::jsonb, '{id}', to_jsonb(n.id::text)) FROM n
       RETURNING id`,
      [subjects.event(e.cluster, e.entity, e.event), JSON.stringify(payload)],
    );
    return rows[0].id;
  }

  async unpublished(tx: PoolClient, limit: number): Promise<OutboxRow[]> {
    const { rows } = await tx.query<OutboxRow>(
      `SELECT id::text AS id, subject, payload FROM outbox
        WHERE published_at IS NULL ORDER BY id LIMIT $1`,
      [limit],
    );
    return rows;
  }

  async markPublished(tx: PoolClient, ids: string[]): Promise<void> {
    await tx.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [ids]);
  }

  /** Drops rows published longer ago than `olderThanMs` (JetStream keeps the events). */
  async prunePublished(tx: PoolClient, olderThanMs: number): Promise<number> {
    const { rowCount } = await tx.query(
      `DELETE FROM outbox WHERE published_at IS NOT NULL
         AND published_at < now() - make_interval(secs => $1::double precision / 1000)`,
      [olderThanMs],
    );
    return rowCount ?? 0;
  }
}
