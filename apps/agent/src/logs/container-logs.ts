import type { IncomingMessage } from 'node:http';
import type Docker from 'dockerode';
import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { Gauge, Registry } from 'prom-client';
import {
  ClientError,
  GrpcCode,
  InvalidParameterError,
  NotFoundError,
  WharfError,
} from '@wharf/domain';
import type { agentV1 } from '@wharf/proto';
import { dockerStatus, errorMessage } from '../engine/docker-util';
import { LABELS } from '../engine/labels';
import { dockerSince, dockerTail, LogFrameDecoder, splitTimestamp } from './log-frames';

interface TaskContainer {
  id: string;
  name: string;
}

/**
 * Streams a task container's logs from the Docker engine. Containers are found by their
 * labels, so this works for any container of this instance's tasks — running, or stopped and
 * not yet removed — without asking the task engine.
 */
export class ContainerLogs {
  private open = 0;

  constructor(
    private readonly docker: Docker,
    private readonly containerInstanceArn: string,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    if (registry) {
      const openStreams = () => this.open;
      new Gauge({
        name: 'wharf_agent_log_streams',
        help: 'Container log streams open to the Docker engine',
        registers: [registry],
        collect() {
          this.set(openStreams());
        },
      });
    }
  }

  /** Log streams open to the engine now; each closes when its caller goes away. */
  get openStreams(): number {
    return this.open;
  }

  /**
   * One chunk per log line (per engine frame). Completes at the end of the logs, or with
   * `follow` when the container stops; unsubscribing closes the engine's stream.
   */
  stream(request: agentV1.StreamLogsRequest): Observable<agentV1.LogChunk> {
    return new Observable<agentV1.LogChunk>((subscriber) => {
      const abort = new AbortController();
      let body: IncomingMessage | undefined;
      const fail = (err: unknown) =>
        subscriber.error(
          err instanceof WharfError
            ? err
            : new WharfError(
                'ServerException',
                GrpcCode.UNAVAILABLE,
                `The Docker engine did not answer: ${errorMessage(err)}`,
              ),
        );

      void (async () => {
        const container = await this.findContainer(request.taskArn, request.containerName);
        const info = await this.docker
          .getContainer(container.id)
          .inspect()
          .catch((err: unknown) => {
            throw this.engineError(err, request.taskArn, container.name);
          });
        if (abort.signal.aborted) return;
        body = await this.openLogs(container.id, request, abort.signal).catch((err: unknown) => {
          throw this.engineError(err, request.taskArn, container.name);
        });
        this.open++;
        body.once('close', () => this.open--);
        if (abort.signal.aborted) {
          body.destroy();
          return;
        }

        const decoder = new LogFrameDecoder(!info.Config.Tty);
        const emit = (frames: ReturnType<LogFrameDecoder['push']>) => {
          for (const frame of frames) {
            // The engine is always asked for timestamps so each chunk can carry its own;
            // the caller sees them in the text only when it asked for them.
            const line = frame.data.toString('utf8');
            const { at, text } = splitTimestamp(line);
            subscriber.next({
              containerName: container.name,
              stream: frame.stream,
              data: request.timestamps ? line : text,
              timestamp: at ?? Date.now(),
            });
          }
        };
        body.on('data', (chunk: Buffer) => emit(decoder.push(chunk)));
        body.once('end', () => {
          emit(decoder.end());
          subscriber.complete();
        });
        body.once('error', (err) => {
          if (abort.signal.aborted) return;
          this.logger.warn({ err, taskArn: request.taskArn }, 'container log stream failed');
          subscriber.error(this.engineError(err, request.taskArn, container.name));
        });
      })().catch(fail);

      return () => {
        abort.abort();
        body?.destroy();
      };
    });
  }

  private async findContainer(taskArn: string, containerName: string): Promise<TaskContainer> {
    if (!taskArn) throw new InvalidParameterError('taskArn is required.');
    const listed = await this.docker.listContainers({
      all: true,
      filters: {
        label: [
          `${LABELS.taskArn}=${taskArn}`,
          `${LABELS.containerInstanceArn}=${this.containerInstanceArn}`,
        ],
      },
    });
    const containers = listed
      .map((c) => ({ id: c.Id, name: c.Labels[LABELS.containerName] ?? '' }))
      .sort((a, b) => a.name.localeCompare(b.name));
    if (containers.length === 0) {
      throw new NotFoundError(
        `Task ${taskArn} has no containers on this container instance (unknown task, or its containers were removed).`,
      );
    }
    const names = containers.map((c) => c.name).join(', ');
    if (!containerName) {
      if (containers.length === 1) return containers[0];
      throw new InvalidParameterError(
        `Task ${taskArn} has ${containers.length} containers (${names}); name one.`,
      );
    }
    const found = containers.find((c) => c.name === containerName);
    if (!found) {
      throw new NotFoundError(
        `Task ${taskArn} has no container named ${containerName}; its containers: ${names}.`,
      );
    }
    return found;
  }

  private async openLogs(
    id: string,
    request: agentV1.StreamLogsRequest,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const options: Record<string, unknown> = {
      stdout: true,
      stderr: true,
      follow: request.follow,
      tail: dockerTail(request.tail),
      timestamps: true,
    };
    if (request.since > 0) options.since = dockerSince(request.since);
    // dockerode's container.logs buffers the whole answer unless following; dialling
    // the same endpoint as a stream keeps memory flat for long logs too.
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: `/containers/${id}/logs?`,
          method: 'GET',
          isStream: true,
          abortSignal: signal,
          statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
          options,
        },
        (err: unknown, stream: unknown) => (err ? reject(err) : resolve(stream as IncomingMessage)),
      );
    });
  }

  private engineError(err: unknown, taskArn: string, containerName: string): WharfError {
    if (err instanceof WharfError) return err;
    const detail = errorMessage(err);
    const status = dockerStatus(err);
    if (status === 404) {
      return new NotFoundError(
        `Container ${containerName} of task ${taskArn} is gone from this container instance.`,
      );
    }
    if (status === undefined) {
      return new WharfError(
        'ServerException',
        GrpcCode.UNAVAILABLE,
        `The Docker engine did not answer: ${detail}`,
      );
    }
    // e.g. a logging driver the engine cannot read back ("configured logging driver does not
    // support reading").
    return new ClientError(`Cannot read the logs of container ${containerName}: ${detail}`);
  }
}
