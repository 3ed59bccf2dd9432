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

/**
 * Follows Docker's event stream for the agent's containers. When the stream breaks it
 * reconnects with `since` = the last event seen, so no exit is missed.
 */
export class DockerEventWatcher {
  private stream?: NodeJS.ReadableStream & { destroy?: () => void };
  private stopped = false;
  private since = Math.floor(Date.now() / 1000);
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly docker: Docker,
    private readonly labelFilter: string[],
    private readonly onEvent: (event: DockerContainerEvent) => void,
    private readonly logger: Logger,
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
    this.stream = stream;
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
  }

  private scheduleReconnect(why: string): void {
    if (this.stopped) return;
    this.logger.warn({ why }, 'docker event stream ended; reconnecting');
    this.retry = setTimeout(() => {
      this.connect().catch((err: unknown) => this.scheduleReconnect(errorMessage(err)));
    }, 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.stream?.destroy?.();
    this.stream = undefined;
  }
}
