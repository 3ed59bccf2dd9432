import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import pino from 'pino';
import { DockerContainerEvent, DockerEventWatcher } from './docker-events';

const logger = pino({ level: 'silent' });

/** A Docker engine whose event endpoint fails `failures` times after each broken stream. */
function fakeDocker(failures: number) {
  const streams: PassThrough[] = [];
  let failing = 0;
  const calls: number[] = [];
  const docker = {
    getEvents: jest.fn(async () => {
      calls.push(Date.now());
      if (failing > 0) {
        failing--;
        throw new Error('connect ECONNREFUSED /var/run/docker.sock');
      }
      const s = new PassThrough();
      streams.push(s);
      return s;
    }),
  } as unknown as Docker;
  return {
    docker,
    streams,
    calls,
    /** The engine goes away: the stream ends and the next `failures` connects fail. */
    restartEngine() {
      failing = failures;
      streams[streams.length - 1].end();
    },
  };
}

describe('DockerEventWatcher', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));
  afterEach(() => jest.useRealTimers());

  it('reconnects with backoff after the engine restarts, then asks for a reconcile', async () => {
    const fake = fakeDocker(3);
    const events: DockerContainerEvent[] = [];
    const reconnected = jest.fn();
    const watcher = new DockerEventWatcher(
      fake.docker,
      ['com.wharf.task-arn'],
      (e) => events.push(e),
      logger,
      reconnected,
    );
    await watcher.start();
    const time = Math.floor(Date.now() / 1000) + 5;
    fake.streams[0].write(`${JSON.stringify({ Type: 'container', Action: 'die', time })}\n`);
    await Promise.resolve();
    expect(events.map((e) => e.Action)).toEqual(['die']);
    expect(reconnected).not.toHaveBeenCalled();

    fake.restartEngine();
    await new Promise((r) => setImmediate(r));
    // 0.5 s, then 1 s, 2 s, 4 s between attempts while the engine is down.
    for (const wait of [500, 1000, 2000, 4000]) {
      await jest.advanceTimersByTimeAsync(wait);
    }
    expect(fake.docker.getEvents).toHaveBeenCalledTimes(5);
    expect(fake.streams).toHaveLength(2);
    expect(reconnected).toHaveBeenCalledTimes(1);
    // It resumes from the last event it saw.
    expect((fake.docker.getEvents as jest.Mock).mock.calls[4][0].since).toBe(time);

    // A later break starts the backoff from the bottom again.
    fake.restartEngine();
    await new Promise((r) => setImmediate(r));
    await jest.advanceTimersByTimeAsync(500);
    await jest.advanceTimersByTimeAsync(1000);
    await jest.advanceTimersByTimeAsync(2000);
    await jest.advanceTimersByTimeAsync(4000);
    expect(reconnected).toHaveBeenCalledTimes(2);
    watcher.stop();
  });

  it('stops reconnecting once stopped', async () => {
    const fake = fakeDocker(100);
    const watcher = new DockerEventWatcher(fake.docker, [], () => undefined, logger);
    await watcher.start();
    fake.restartEngine();
    await new Promise((r) => setImmediate(r));
    watcher.stop();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(fake.docker.getEvents).toHaveBeenCalledTimes(1);
  });
});
