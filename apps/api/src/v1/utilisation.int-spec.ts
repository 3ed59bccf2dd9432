/**
 * Utilisation end to end: the agent's stats collector samples a real container on the local
 * Docker engine, its reporter publishes over NATS, state stores the samples, and the api serves
 * them under /v1.
 */
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import type { NatsConnection } from '@nats-io/nats-core';
import { firstValueFrom } from 'rxjs';
import { connectNats } from '@wharf/messaging';
import { createLogger } from '@wharf/observability';
import { common, createStateClient } from '@wharf/proto';
import { eventually, IMAGES } from '@wharf/testing';
import { LABELS } from '../../../agent/src/engine/labels';
import { StatsCollector } from '../../../agent/src/stats/stats-collector';
import { UtilisationReporter } from '../../../agent/src/stats/utilisation-reporter';
import { startControlPlane } from '../control-plane-test-fixtures';
import type { UtilisationJson } from './utilisation.controller';
import { EMPTY_TASK } from '../../../state/src/state-test-fixtures';

jest.setTimeout(180_000);

const MiB = 1024 * 1024;

const TASK: common.Task = {
  ...EMPTY_TASK,
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/busy:1',
  cpu: 256,
  memory: 64,
  startedBy: 'test',
};

describe('GET /v1/…/utilisation (agent stats → NATS → state → api)', () => {
  const stops: (() => Promise<unknown>)[] = [];
  const docker = new Docker();
  let url: string;
  let stateUrl: string;
  let nc: NatsConnection;
  let container: Docker.Container | undefined;

  beforeAll(async () => {
    // These routes never call the scheduler: none runs.
    const plane = await startControlPlane({
      logger: createLogger('api-utilisation-int', process.env.LOG_LEVEL ?? 'warn'),
      scheduler: false,
    });
    stops.push(() => plane.stop());
    url = plane.api.url;
    nc = await connectNats({ servers: plane.nats.url, name: 'utilisation-test' });
    stops.unshift(() => nc.close());
    stateUrl = plane.state.grpcUrl;
  });

  afterAll(async () => {
    await container?.remove({ force: true }).catch(() => undefined);
    for (const stop of stops) await stop().catch(() => undefined);
  });

  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('serves the latest sample and history of a task and of its instance', async () => {
    const state = createStateClient(stateUrl);
    try {
      const ci = await firstValueFrom(
        state.client.registerContainerInstance({
          cluster: 'default',
          containerInstanceArn: '',
          ec2InstanceId: '',
          total: { cpu: 2048, memory: 4096, ports: [], portsUdp: [] },
          attributes: [],
          agentVersion: '0.1.0',
          dockerVersion: '20.10',
          agentAddress: '127.0.0.1:1',
          hostname: 'local',
          hostAddress: '127.0.0.1',
        }),
      );
      const committed = await firstValueFrom(
        state.client.commitPlacements({
          cluster: 'default',
          placements: [
            {
              expectedInstanceVersion: 0,
              fenceLease: '',
              fenceHolder: '',
              task: { ...TASK, containerInstanceArn: ci.containerInstanceArn },
            },
          ],
        }),
      );
      const task = committed.tasks[0];
      const taskId = task.taskArn.split('/').pop()!;
      const instanceId = ci.containerInstanceArn.split('/').pop()!;

      // Known but not reported yet: 200 with no latest sample.
      const before = await get(`/v1/clusters/default/tasks/${taskId}/utilisation`);
      expect(before).toEqual({
        status: 200,
        body: {
          cluster: 'default',
          taskArn: task.taskArn,
          containerInstanceArn: ci.containerInstanceArn,
          latest: null,
          history: [],
        },
      });

      container = await docker.createContainer({
        name: `wharf-utilisation-test-${randomBytes(4).toString('hex')}`,
        Image: IMAGES.workload,
        Cmd: ['sh', '-c', 'while :; do :; done'],
        Labels: {
          [LABELS.taskArn]: task.taskArn,
          [LABELS.containerName]: 'busy',
          [LABELS.containerInstanceArn]: ci.containerInstanceArn,
        },
        HostConfig: { Memory: 64 * MiB },
      });
      await container.start();

      const logger = createLogger('agent-stats', 'warn');
      const reporter = new UtilisationReporter(
        nc,
        new StatsCollector(
          docker,
          { clusterArn: ci.clusterArn, containerInstanceArn: ci.containerInstanceArn },
          logger,
        ),
        { clusterName: 'default', intervalMs: 0 },
        logger,
      );
      await reporter.round();
      await reporter.round();
      expect(reporter.published).toBe(2);

      const byTask = await eventually(async () => {
        const r = await get(
          `/v1/clusters/default/tasks/${encodeURIComponent(task.taskArn)}/utilisation?history=5`,
        );
        return r.status === 200 && (r.body as unknown as UtilisationJson).history.length === 2
          ? (r.body as unknown as UtilisationJson)
          : undefined;
      }, 'two samples of the task');
      expect(byTask.taskArn).toBe(task.taskArn);
      expect(byTask.latest).toEqual(byTask.history[0]);
      expect(Date.parse(byTask.history[0].sampledAt)).toBeGreaterThan(
        Date.parse(byTask.history[1].sampledAt),
      );
      // The figures themselves are checked against the engine in the agent's stats test; here
      // the busy loop only has to show (the machine may be busy with other containers).
      expect(byTask.latest!.cpuPercent).toBeGreaterThan(20);
      expect(byTask.latest!.memoryLimitBytes).toBe(64 * MiB);
      expect(byTask.latest!.memoryUsedBytes).toBeGreaterThan(0);
      expect(byTask.latest!.containers).toEqual([
        expect.objectContaining({
          name: 'busy',
          runtimeId: container.id,
          memoryLimitBytes: 64 * MiB,
        }),
      ]);

      const one = await get(`/v1/clusters/default/tasks/${taskId}/utilisation?history=1`);
      expect((one.body as unknown as UtilisationJson).history).toHaveLength(1);

      const byInstance = await get(
        `/v1/clusters/default/container-instances/${instanceId}/utilisation`,
      );
      expect(byInstance.status).toBe(200);
      const instance = byInstance.body as unknown as UtilisationJson;
      expect(instance.containerInstanceArn).toBe(ci.containerInstanceArn);
      expect(instance.taskArn).toBeUndefined();
      expect(instance.latest).toMatchObject({ taskCount: 1 });
      expect(instance.latest!.cpuPercent).toBeGreaterThan(20);
      expect(instance.history).toHaveLength(2);
    } finally {
      state.close();
    }
  });

  it('answers unknown tasks, instances and clusters with 404 and a message, a bad history with 400', async () => {
    const task = await get(`/v1/clusters/default/tasks/${'f'.repeat(32)}/utilisation`);
    expect(task.status).toBe(404);
    expect(task.body.message).toMatch(/Task f+ was not found in cluster default/);
    const instance = await get('/v1/clusters/default/container-instances/nope/utilisation');
    expect(instance.status).toBe(404);
    expect(instance.body.message).toMatch(/Container instance nope was not found/);
    const cluster = await get('/v1/clusters/nope/tasks/x/utilisation');
    expect(cluster.status).toBe(404);
    expect(typeof cluster.body.message).toBe('string');
    const bad = await get('/v1/clusters/default/tasks/x/utilisation?history=-1');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/history must be/);
  });
});
