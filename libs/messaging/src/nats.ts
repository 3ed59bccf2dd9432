import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { eventsOf, WharfEvent, WharfEventMessage } from './payloads';
import { STREAMS } from './subjects';

export interface NatsSettings {
  servers: string;
  name: string;
}

/** The servers of a NATS_URL, and the credentials it carries. */
export interface NatsServers {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
}

/**
 * Reads NATS_URL: comma-separated servers, each of which may carry the credentials the NATS
 * server asks for, as `nats://user:password@host:4222` or `nats://token@host:4222` (escaped as
 * URL userinfo is). The client takes credentials as options, not in the URL, so they are taken
 * out; servers that carry them must all carry the same.
 */
export function parseNatsServers(value: string): NatsServers {
  const servers: string[] = [];
  let credentials: { user?: string; pass?: string; token?: string } | undefined;
  for (const raw of value.split(',').map((s) => s.trim())) {
    if (!raw) continue;
    let url: URL;
    try {
      url = new URL(raw.includes('://') ? raw : `nats://${raw}`);
    } catch {
      // Not shown: it may hold a password.
      throw new Error('NATS_URL: a server is not a URL (nats://[user:password@]host:port)');
    }
    if (!url.username && !url.password) {
      servers.push(raw);
      continue;
    }
    const username = decodeURIComponent(url.username);
    const found = url.password
      ? { user: username, pass: decodeURIComponent(url.password) }
      : { token: username };
    if (credentials && JSON.stringify(credentials) !== JSON.stringify(found)) {
      throw new Error('NATS_URL: every server that carries credentials must carry the same');
    }
    credentials = found;
    servers.push(`${url.protocol}//${url.host}`);
  }
  return { servers, ...credentials };
}

/** Connects to NATS and retries for ever when the connection drops. */
export async function connectNats(settings: NatsSettings): Promise<NatsConnection> {
  return connect({
    ...parseNatsServers(settings.servers),
    name: settings.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Each JetStream publish is a request; by default the client captures a stack trace for
    // every one in case it fails (profiled: ~4% of a busy service's CPU). Errors still say
    // what failed, without the caller's async stack.
    noAsyncTraces: true,
  });
}

/** Creates Wharf's streams if they are missing; safe to call from every process. */
export async function ensureStreams(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const stream of Object.values(STREAMS)) {
    const config = {
      name: stream.name,
      subjects: [...stream.subjects],
      retention: stream.workQueue ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
      storage: StorageType.File,
      duplicate_window: 2 * 60 * 1_000_000_000, // 2 minutes, in nanoseconds
      max_age: 24 * 60 * 60 * 1_000_000_000,
    };
    try {
      await jsm.streams.info(stream.name);
    } catch {
      try {
        await jsm.streams.add(config);
      } catch (err) {
        // Another process created it between our look-up and our add.
        await jsm.streams.info(stream.name).catch(() => {
          throw err;
        });
      }
    }
  }
}

export function encode(payload: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

export function decode<T>(data: Uint8Array): T {
  return JSON.parse(
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'),
  ) as T;
}

/**
 * The events of a message on an events subject: the one, or a batch's in order. Throws on a
 * message that is not JSON.
 */
export function decodeEvents<T>(data: Uint8Array): WharfEvent<T>[] {
  return eventsOf(decode<WharfEventMessage<T>>(data));
}
