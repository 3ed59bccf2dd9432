/**
 * An agent joining a state that requires join tokens (STATE_AGENT_JOIN=token, the default),
 * with real Postgres, NATS and the local Docker engine: with a valid token it registers; with a
 * revoked token, or none, the agent process logs state's refusal and exits with status 78 at
 * once instead of retrying; a malformed WHARF_JOIN_TOKEN stops it before it dials anything.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { startNats, StartedNats, startPostgres, StartedPostgres } from '@wharf/testing';
import { startState, RunningState } from '../../state/src/state';
import { stateConfigSchema } from '../../state/src/config';
import { RunningAgent, startAgent } from './agent';
import { agentConfigSchema } from './config';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const call = <T>(o: Observable<T>) => firstValueFrom(o);

let pg: StartedPostgres;
let nats: StartedNats;
let state: RunningState;
let stateClient: GrpcClient<stateV1.StateServiceClient>;
let agent: RunningAgent | undefined;
const dataDirs: string[] = [];

const newDataDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-agent-join-'));
  dataDirs.push(dir);
  return dir;
};

const agentEnv = (dataDir: string, joinToken: string | undefined): Record<string, string> => ({
  STATE_URL: state.grpcUrl,
  NATS_URL: nats.url,
  WHARF_CLUSTER: 'default',
  AGENT_GRPC_PORT: '0',
  AGENT_OPS_PORT: '0',
  AGENT_DATA_DIR: dataDir,
  AGENT_CPU: '1024',
  AGENT_MEMORY: '1024',
  AGENT_HOST_ADDRESS: '127.0.0.1',
  AGENT_ADVERTISE_ADDRESS: 'agent-join-test:4703',
  ...(joinToken === undefined ? {} : { WHARF_JOIN_TOKEN: joinToken }),
});

/** Runs the agent as its own process until it exits (or `timeoutMs`): its status and logs. */
function runAgentProcess(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [join(__dirname, 'testing', 'agent-process.cjs')], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the agent did not exit within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

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
  stateClient = createStateClient(state.grpcUrl);
});

afterAll(async () => {
  await agent?.stop();
  stateClient?.close();
  await state?.stop();
  await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

describe('agent joining with a join token', () => {
  it('registers with a valid token for its cluster', async () => {
    const { joinToken } = await call(
      stateClient.client.createJoinToken({
        cluster: 'default',
        expiresInSeconds: 3600,
        description: 'agent test',
      }),
    );
    agent = await startAgent(
      agentConfigSchema.parse(agentEnv(await newDataDir(), joinToken)),
      logger,
    );
    expect(agent.containerInstanceArn).toMatch(/:container-instance\/default\//);
    await agent.stop();
    agent = undefined;
  });

  it('exits with status 78 and says why when its token was revoked', async () => {
    const created = await call(
      stateClient.client.createJoinToken({
        cluster: 'default',
        expiresInSeconds: 0,
        description: '',
      }),
    );
    await call(stateClient.client.revokeJoinToken({ joinTokenId: created.token!.joinTokenId }));
    const started = Date.now();
    const { code, output } = await runAgentProcess(agentEnv(await newDataDir(), created.joinToken));
    expect(code).toBe(78);
    expect(output).toContain(`Join token ${created.token!.joinTokenId} was revoked`);
    expect(output).toContain('wharf admin join-token create --cluster default');
    expect(output).not.toContain(created.joinToken);
    // Refused once, not retried: no "retrying" warnings, and well before any backoff adds up.
    expect(output).not.toContain('registering the container instance failed; retrying');
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('exits with status 78 without a token', async () => {
    const { code, output } = await runAgentProcess(agentEnv(await newDataDir(), undefined));
    expect(code).toBe(78);
    expect(output).toContain('requires agents to present a join token');
    expect(output).toContain('WHARF_JOIN_TOKEN');
  });

  it('refuses to start with a malformed WHARF_JOIN_TOKEN, not showing it', async () => {
    const { code, output } = await runAgentProcess(
      agentEnv(await newDataDir(), 'wjt_not-a-real-token-value'),
    );
    expect(code).toBe(1);
    expect(output).toContain('WHARF_JOIN_TOKEN (hidden): is not a join token');
    expect(output).not.toContain('not-a-real-token-value');
  });
});
