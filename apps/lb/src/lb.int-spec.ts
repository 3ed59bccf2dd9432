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
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
      }),
      logger,
    );
    lb = await startLb(
      lbConfigSchema.parse({ NATS_URL: nats.url, STATE_URL: state.grpcUrl, LB_OPS_PORT: '0' }),
      logger,
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
    expect(await ready.json()).toMatchObject({ ready: true, checks: { nats: true, state: true } });
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
});
