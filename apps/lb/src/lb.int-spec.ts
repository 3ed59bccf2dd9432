import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { createLogger } from '@wharf/observability';
import { createStateClient, type GrpcClient, type stateV1 } from '@wharf/proto';
import {
  eventually,
  startNats,
  startPostgres,
  type StartedNats,
  type StartedPostgres,
} from '@wharf/testing';
import { startState, type RunningState } from '../../state/src/state';
import { stateConfigSchema } from '../../state/src/config';
import { lbConfigSchema } from './config';
import { startLb, type RunningLb } from './lb';

jest.setTimeout(120_000);

/** The lb's worker processes run the TypeScript sources through the bench's launcher. */
const TS_WORKER = {
  exec: path.resolve(__dirname, '../../../test/bench/run.js'),
  args: [path.join(__dirname, 'worker-main.ts')],
};

describe('lb against real state, Postgres and NATS', () => {
  const logger = createLogger('lb-test', 'warn');
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let lb: RunningLb;
  let grpc: GrpcClient<stateV1.StateServiceClient>;

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    state = await startState(
      stateConfigSchema.parse({
        DATABASE_URL: pg.url,
        STATE_AGENT_JOIN: 'open',
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        LB_TARGET_SWEEP_INTERVAL_MS: '100',
      }),
      logger,
    );
    // Two worker processes serve the listeners; the control plane runs here (the primary).
    lb = await startLb(
      lbConfigSchema.parse({
        NATS_URL: nats.url,
        STATE_URL: state.grpcUrl,
        LB_OPS_PORT: '0',
        LB_BIND_HOST: '127.0.0.1',
        LB_WORKERS: '2',
        SHUTDOWN_TIMEOUT_MS: '2000',
      }),
      logger,
      { worker: TS_WORKER },
    );
    grpc = createStateClient(state.grpcUrl);
  });

  afterAll(async () => {
    grpc?.close();
    await lb?.stop();
    await state?.stop();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const ops = (path: string) => fetch(`http://127.0.0.1:${lb.opsPort}${path}`);

  it('is healthy and ready once state and NATS answer', async () => {
    expect((await ops('/healthz')).status).toBe(200);
    const ready = await ops('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      checks: { nats: true, state: true, config: true },
    });
  });

  it('follows task events relayed from state through NATS', async () => {
    const instance = await firstValueFrom(
      grpc.client.registerContainerInstance({
        cluster: 'default',
        containerInstanceArn: '',
        ec2InstanceId: 'lb-test-host',
        total: { cpu: 1024, memory: 512, ports: [], portsUdp: [] },
        attributes: [],
        agentVersion: 'test',
        dockerVersion: 'test',
        agentAddress: '127.0.0.1:1',
        hostname: 'lb-test-host',
        hostAddress: '127.0.0.1',
      }),
    );
    const td = await firstValueFrom(
      grpc.client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family: 'lb-test',
          containerDefinitions: [{ name: 'c', image: 'wharf/busybox:dev', memory: 16 }],
        }),
      }),
    );
    const committed = await firstValueFrom(
      grpc.client.commitPlacements({
        cluster: 'default',
        placements: [
          {
            expectedInstanceVersion: 0,
            fenceLease: '',
            fenceHolder: '',
            task: {
              taskArn: '',
              taskDefinitionArn: td.taskDefinitionArn,
              containerInstanceArn: instance.containerInstanceArn,
              cpu: 0,
              memory: 16,
              hostPorts: [],
              hostPortsUdp: [],
              group: 'family:lb-test',
              containers: [],
            } as unknown as stateV1.Placement['task'],
          },
        ],
      }),
    );
    expect(committed.tasks).toHaveLength(1);

    await eventually(async () => {
      const metrics = await (await ops('/metrics')).text();
      return /wharf_lb_task_events_total\{type="task.created"[^}]*\} 1/.test(metrics)
        ? true
        : undefined;
    }, 'the lb to count the task.created event');
  });

  describe('load balancer resources created through state', () => {
    let backend: Server;
    let backendPort: number;
    let listenerPort: number;
    let lbArn: string;
    let tgArn: string;
    let listenerArn: string;
    const put = (kind: string, spec: unknown, arn = '') =>
      firstValueFrom(grpc.client.putLbResource({ kind, arn, specJson: JSON.stringify(spec) }));
    const get = (host: string, path: string) =>
      fetch(`http://${host}:${listenerPort}${path}`).then(async (r) => ({
        status: r.status,
        body: await r.text(),
      }));
    const targetRef = () => ({
      id: '127.0.0.1',
      port: backendPort,
      host: '127.0.0.1',
      taskArn: '',
      serviceArn: '',
    });

    beforeAll(async () => {
      backend = createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`backend saw ${req.url} for ${req.headers['x-forwarded-for']}`);
      });
      await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
      backendPort = (backend.address() as AddressInfo).port;
      const probe = createTcpServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      listenerPort = (probe.address() as AddressInfo).port;
      await new Promise((resolve) => probe.close(resolve));
    });

    afterAll(async () => {
      await new Promise((resolve) => backend?.close(resolve));
    });

    it('opens the listener and forwards to registered targets, reporting their health', async () => {
      lbArn = (await put('load-balancer', { name: 'lb-test', idleTimeoutSeconds: 30 })).arn;
      tgArn = (
        await put('target-group', {
          name: 'lb-test-tg',
          port: 80,
          targetType: 'ip',
          deregistrationDelaySeconds: 0,
          healthCheck: {
            path: '/health',
            intervalSeconds: 5,
            timeoutSeconds: 2,
            healthyThresholdCount: 2,
          },
        })
      ).arn;
      listenerArn = (
        await put('listener', {
          loadBalancerArn: lbArn,
          port: listenerPort,
          defaultActions: [{ type: 'forward', targetGroupArn: tgArn }],
        })
      ).arn;
      // no target yet: 503
      await eventually(
        async () =>
          (await get('127.0.0.1', '/x').catch(() => undefined))?.status === 503 ? true : undefined,
        'the listener to open and answer 503',
      );
      await firstValueFrom(
        grpc.client.registerTargets({ targetGroupArn: tgArn, targets: [targetRef()] }),
      );
      const reply = await eventually(async () => {
        const r = await get('127.0.0.1', '/hello');
        return r.status === 200 ? r : undefined;
      }, 'the target to receive traffic');
      expect(reply.body).toBe('backend saw /hello for 127.0.0.1');
      await eventually(
        async () => {
          const { targets } = await firstValueFrom(
            grpc.client.describeTargetHealth({ targetGroupArn: tgArn, targets: [] }),
          );
          return targets[0]?.state === 'healthy' ? true : undefined;
        },
        'the lb to report the target healthy',
        30_000,
      );
    });

    it('follows rule changes on the open listener', async () => {
      await put('rule', {
        listenerArn,
        priority: 1,
        conditions: [{ field: 'path-pattern', values: ['/maintenance/*'] }],
        actions: [
          {
            type: 'fixed-response',
            fixedResponseConfig: { statusCode: '503', messageBody: 'down for maintenance' },
          },
        ],
      });
      await eventually(async () => {
        const r = await get('127.0.0.1', '/maintenance/now');
        return r.body === 'down for maintenance' ? true : undefined;
      }, 'the rule to apply');
      expect((await get('127.0.0.1', '/other')).status).toBe(200);
    });

    it('reads everything from state at start (a second replica on another address)', async () => {
      const second = await startLb(
        lbConfigSchema.parse({
          NATS_URL: nats.url,
          STATE_URL: state.grpcUrl,
          LB_OPS_PORT: '0',
          LB_BIND_HOST: '127.0.0.2',
          LB_WORKERS: '1', // this replica serves in its one process
        }),
        logger,
      );
      try {
        await second.ready();
        expect((await get('127.0.0.2', '/from-second')).body).toBe(
          'backend saw /from-second for 127.0.0.1',
        );
        expect((await get('127.0.0.2', '/maintenance/x')).status).toBe(503);
      } finally {
        await second.stop();
      }
    });

    it('stops sending to a deregistered target and closes a deleted listener', async () => {
      await firstValueFrom(
        grpc.client.deregisterTargets({ targetGroupArn: tgArn, targets: [targetRef()] }),
      );
      await eventually(
        async () => ((await get('127.0.0.1', '/after')).status === 503 ? true : undefined),
        'no target to remain',
      );
      await firstValueFrom(grpc.client.deleteLbResource({ kind: 'listener', arn: listenerArn }));
      await eventually(
        async () =>
          get('127.0.0.1', '/gone').then(
            () => undefined,
            () => true,
          ),
        'the listener port to close',
      );
    });
  });
});
