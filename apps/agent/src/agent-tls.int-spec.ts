/**
 * State and an agent in-process with mutual TLS on their gRPC (GRPC_TLS_* in the environment,
 * certificates from scripts/make-certs.sh), with real Postgres, NATS and the local Docker
 * engine: the agent registers with state over TLS (with a join token), a client with the
 * certificates reaches both, and plaintext clients are refused by both.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { createAgentClient, createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { startNats, StartedNats, startPostgres, StartedPostgres } from '@wharf/testing';
import { startState, RunningState } from '../../state/src/state';
import { stateConfigSchema } from '../../state/src/config';
import { RunningAgent, startAgent } from './agent';
import { agentConfigSchema } from './config';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const call = <T>(o: Observable<T>) => firstValueFrom(o);
const TLS_VARIABLES = ['GRPC_TLS_CA', 'GRPC_TLS_CERT', 'GRPC_TLS_KEY'] as const;

let pg: StartedPostgres;
let nats: StartedNats;
let state: RunningState;
let stateClient: GrpcClient<stateV1.StateServiceClient>;
let agent: RunningAgent | undefined;
let certs: string;
let dataDir: string;
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  certs = await mkdtemp(join(tmpdir(), 'wharf-tls-certs-'));
  dataDir = await mkdtemp(join(tmpdir(), 'wharf-tls-agent-'));
  execFileSync('bash', [join(__dirname, '..', '..', '..', 'scripts', 'make-certs.sh'), certs], {
    stdio: 'pipe',
  });
  // Every service in this process reads the same variables: the state certificate names
  // 127.0.0.1, where the test dials both state and the agent.
  for (const name of TLS_VARIABLES) savedEnv[name] = process.env[name];
  process.env.GRPC_TLS_CA = join(certs, 'ca.crt');
  process.env.GRPC_TLS_CERT = join(certs, 'state.crt');
  process.env.GRPC_TLS_KEY = join(certs, 'state.key');

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
  // Credentials are state's admin business: only the api's certificate may ask for them.
  stateClient = createStateClient(state.grpcUrl, certificate('api'));
});

/** The TLS settings of a client presenting `name`'s certificate. */
const certificate = (name: string) => ({
  ca: readFileSync(join(certs, 'ca.crt')),
  cert: readFileSync(join(certs, `${name}.crt`)),
  key: readFileSync(join(certs, `${name}.key`)),
});

afterAll(async () => {
  await agent?.stop();
  stateClient?.close();
  await state?.stop();
  await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  for (const name of TLS_VARIABLES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  for (const dir of [certs, dataDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe('state and agent over mutual TLS', () => {
  it('registers the agent over TLS and serves TLS clients only', async () => {
    const { joinToken } = await call(
      stateClient.client.createJoinToken({
        cluster: 'default',
        expiresInSeconds: 0,
        description: '',
      }),
    );
    agent = await startAgent(
      agentConfigSchema.parse({
        STATE_URL: state.grpcUrl,
        NATS_URL: nats.url,
        WHARF_JOIN_TOKEN: joinToken,
        AGENT_GRPC_PORT: '0',
        AGENT_OPS_PORT: '0',
        AGENT_DATA_DIR: dataDir,
        AGENT_CPU: '1024',
        AGENT_MEMORY: '1024',
        AGENT_HOST_ADDRESS: '127.0.0.1',
        AGENT_ADVERTISE_ADDRESS: 'agent-tls-test:4703',
      }),
      logger,
    );
    expect(agent.containerInstanceArn).toMatch(/:container-instance\/default\//);

    const tlsAgent = createAgentClient(agent.grpcUrl);
    const plainAgent = createAgentClient(agent.grpcUrl, undefined, null);
    const plainState = createStateClient(state.grpcUrl, null);
    try {
      await expect(
        call(tlsAgent.client.stopTask({ taskArn: 'arn:unknown', reason: '', stopCode: '' })),
      ).resolves.toEqual({ known: false });
      await expect(
        call(plainAgent.client.stopTask({ taskArn: 'arn:unknown', reason: '', stopCode: '' })),
      ).rejects.toMatchObject({ code: GrpcCode.UNAVAILABLE });
      await expect(call(plainState.client.listJoinTokens({}))).rejects.toMatchObject({
        code: GrpcCode.UNAVAILABLE,
      });
    } finally {
      tlsAgent.close();
      plainAgent.close();
      plainState.close();
    }
  });

  it("gives join tokens and access keys only to the api's certificate", async () => {
    for (const name of ['agent', 'scheduler']) {
      const other = createStateClient(state.grpcUrl, certificate(name));
      try {
        for (const attempt of [
          call(other.client.createJoinToken({ cluster: '', expiresInSeconds: 0, description: '' })),
          call(other.client.resolveAccessKey({ accessKeyId: 'AKIAEXAMPLE000000000' })),
        ]) {
          await expect(attempt).rejects.toMatchObject({
            code: GrpcCode.PERMISSION_DENIED,
            details: expect.stringContaining(`the caller's certificate names '${name}'`),
          });
        }
        // What the service is for still works with its certificate.
        const listed = await call(other.client.listClusters({ maxResults: 0, nextToken: '' }));
        expect(listed.clusterArns.some((arn) => arn.endsWith(':cluster/default'))).toBe(true);
      } finally {
        other.close();
      }
    }
    await expect(call(stateClient.client.listJoinTokens({}))).resolves.toHaveProperty('tokens');
  });
});
