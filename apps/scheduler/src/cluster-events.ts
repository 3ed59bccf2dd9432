import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { decodeEvents, subjects } from '@wharf/messaging';
import type { common } from '@wharf/proto';
import type { Logger } from 'pino';
import type { ClusterSnapshots } from './cluster-snapshots';
import type { Lookups } from './lookups';

/** Told of every container instance record an event brings, after the snapshot took it. */
export type InstanceListener = (cluster: string, instance: common.ContainerInstance) => void;

/**
 * Keeps the scheduler's caches current from state's events (plain NATS subscriptions on the
 * events stream's subjects: a scheduler wants what happens from now on, not the history):
 * `container_instance.*` (registered, changed; a message may hold a batch of them) updates the
 * cluster snapshots and is handed to `onInstance` (decoded once here: every placement changes
 * an instance, so these are the busiest events a scheduler reads); `cluster.*` and
 * `task_definition.*` forget the cached look-ups. After a reconnect every snapshot is read
 * again, since events may have been missed meanwhile. Returns a function that stops following.
 */
export function followClusterEvents(
  nc: NatsConnection,
  snapshots: ClusterSnapshots,
  lookups: Lookups,
  logger: Logger,
  onInstance?: InstanceListener,
): () => Promise<void> {
  const subscriptions: Subscription[] = [
    nc.subscribe(subjects.event('*', 'container_instance', '*'), {
      callback: (err, msg) => {
        if (err) return logger.warn({ err }, 'container instance events: subscription error');
        // This scheduler's own commit, whose answer brought the same records: nothing to read.
        // (The service scheduler misses nothing either: a commit changes an instance's
        // resources, never its status or agent connection.)
        const messageId = msg.headers?.get('Nats-Msg-Id');
        if (messageId && snapshots.tookAlready(messageId)) return;
        try {
          // A message's events share its subject, and so its cluster.
          const events = decodeEvents<common.ContainerInstance>(msg.data).filter((e) => e.detail);
          if (events.length === 0) return;
          const cluster = events[0].cluster;
          snapshots.apply(
            cluster,
            events.map((e) => e.detail),
          );
          for (const e of events) onInstance?.(cluster, e.detail);
        } catch (e) {
          logger.warn({ err: e, subject: msg.subject }, 'ignored an unreadable event');
        }
      },
    }),
    nc.subscribe(subjects.event('*', 'cluster', '*'), {
      callback: () => lookups.forgetClusters(),
    }),
    nc.subscribe(subjects.event('*', 'task_definition', '*'), {
      callback: () => lookups.forgetTaskDefinitions(),
    }),
  ];

  let following = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (!following) break;
      if (status.type === 'reconnect') {
        logger.info('NATS reconnected: cluster snapshots will be read again');
        snapshots.expireAll();
        lookups.forgetClusters();
        lookups.forgetTaskDefinitions();
      }
    }
  })();

  return async () => {
    following = false;
    for (const s of subscriptions) s.unsubscribe();
  };
}
