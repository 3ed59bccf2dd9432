import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { errorMessage } from './docker-util';

export interface DockerContainerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano?: number;
}

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;

/**
 * Follows Docker's event stream for the agent's containers. When the stream breaks it
 * reconnects with `since` = the last event seen, so no exit is missed.
 */
export class DockerEventWatcher {
  private stream?: NodeJS.ReadableStream & { destroy?: () => void };
  private stopped = false;
  private since = Math.floor(Date.now() / 1000);
  private retry?: NodeJS.Timeout;
  private backoffMs = MIN_BACKOFF_MS;
  private broken = false;

  constructor(
    private readonly docker: Docker,
    private readonly labelFilter: string[],
    private readonly onEvent: (event: DockerContainerEvent) => void,
    private readonly logger: Logger,
    /** Called when the stream is open again after a break: events may have been missed. */
    private readonly onReconnected: () => void = () => undefined,
  ) {}

  /** Resolves once the stream is open: events after this point are seen. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const stream = (await this.docker.getEvents({
      since: this.since,
      filters: {
        type: ['container'],
        label: this.labelFilter,
        event: ['start', 'die', 'oom', 'health_status'],
      },
    })) as NodeJS.ReadableStream & { destroy?: () => void };
    if (this.stopped) {
      stream.destroy?.();
      return;
    }
    this.stream = stream;
    this.backoffMs = MIN_BACKOFF_MS;
    if (this.broken) {
      this.broken = false;
      this.logger.info('docker event stream reconnected');
      this.onReconnected();
    }
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          const event = JSON.parse(line) as DockerContainerEvent;
          if (event.time) this.since = Math.max(this.since, event.time);
          this.onEvent(event);
        } catch (err) {
          this.logger.warn({ err: errorMessage(err) }, 'unreadable docker event');
        }
      }
    });
    const ended = (why: string) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.scheduleReconnect(why);
    };
    stream.on('error', (err: unknown) => ended(errorMessage(err)));
    stream.on('end', () => ended('end'));
    stream.on('close', () => ended('closed'));
  }

  /** Reconnects with exponential backoff (0.5 s doubling to 30 s) until the engine answers. */
  private scheduleReconnect(why: string): void {
    if (this.stopped) return;
    this.broken = true;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.logger.warn({ why, retryInMs: delay }, 'docker event stream broken; reconnecting');
    this.retry = setTimeout(() => {
      this.connect().catch((err: unknown) => this.scheduleReconnect(errorMessage(err)));
    }, delay);
    this.retry.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.stream?.destroy?.();
    this.stream = undefined;
  }
}
