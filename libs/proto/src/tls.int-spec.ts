/**
 * Mutual TLS on Wharf's gRPC with the certificates of scripts/make-certs.sh: a real gRPC server
 * built by grpcOptions (a Nest microservice serving the agent's StopTask) with TLS, called by
 * clients built by createGrpcClient with the right certificates (accepted), and by clients
 * without a client certificate, with one from another CA, or in plaintext (all refused).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientGrpcProxy, GrpcMethod, type MicroserviceOptions } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { agentV1, createAgentClient, grpcOptions, grpcTlsFromEnv, type GrpcTls } from './index';

jest.setTimeout(60_000);

const SCRIPT = join(__dirname, '..', '..', '..', 'scripts', 'make-certs.sh');

@Controller()
class StopTaskController {
  @GrpcMethod(agentV1.AGENT_SERVICE_NAME, 'StopTask')
  stopTask(req: agentV1.AgentStopTaskRequest): agentV1.AgentStopTaskResponse {
    return { known: req.taskArn === 'known' };
  }
}

@Module({ controllers: [StopTaskController] })
class TestModule {}

let dir: string;
let otherDir: string;
let app: INestMicroservice;
let port: number;

/** The TLS settings a process with SERVICE's certificate from `certs` reads from its env. */
const tlsOf = (certs: string, service: string, extra: Record<string, string> = {}): GrpcTls =>
  grpcTlsFromEnv({
    GRPC_TLS_CA: join(certs, 'ca.crt'),
    GRPC_TLS_CERT: join(certs, `${service}.crt`),
    GRPC_TLS_KEY: join(certs, `${service}.key`),
    ...extra,
  })!;

/** StopTask through a client with raw channel credentials (what createGrpcClient does not make). */
async function callWith(creds: ChannelCredentials, url = `localhost:${port}`) {
  const proxy = new ClientGrpcProxy({
    ...grpcOptions('agent', url, null).options,
    credentials: creds,
  } as ConstructorParameters<typeof ClientGrpcProxy>[0]);
  try {
    const client = proxy.getService<agentV1.AgentServiceClient>(agentV1.AGENT_SERVICE_NAME);
    return await firstValueFrom(client.stopTask({ taskArn: 'known', reason: '', stopCode: '' }));
  } finally {
    proxy.close();
  }
}

async function callTls(url: string, tls: GrpcTls | null) {
  const c = createAgentClient(url, undefined, tls);
  try {
    return await firstValueFrom(c.client.stopTask({ taskArn: 'known', reason: '', stopCode: '' }));
  } finally {
    c.close();
  }
}

const refused = (promise: Promise<unknown>) =>
  expect(promise).rejects.toMatchObject({ code: GrpcCode.UNAVAILABLE });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-certs-'));
  otherDir = mkdtempSync(join(tmpdir(), 'wharf-other-certs-'));
  execFileSync('bash', [SCRIPT, dir], { stdio: 'pipe' });
  execFileSync('bash', [SCRIPT, otherDir], { stdio: 'pipe' });
  // The server is an agent serving with the agent certificate on a free port.
  port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  app = await NestFactory.createMicroservice<MicroserviceOptions>(TestModule, {
    ...grpcOptions('agent', `0.0.0.0:${port}`, tlsOf(dir, 'agent')),
    logger: false,
  });
  await app.listen();
});

afterAll(async () => {
  await app?.close();
  for (const d of [dir, otherDir]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('mutual TLS on gRPC', () => {
  it('makes certificates that name each service, idempotently', () => {
    const before = readFileSync(join(dir, 'state.crt'), 'utf8');
    const out = execFileSync('bash', [SCRIPT, dir], { stdio: 'pipe', encoding: 'utf8' });
    expect(readFileSync(join(dir, 'state.crt'), 'utf8')).toBe(before);
    const text = execFileSync(
      'openssl',
      ['x509', '-in', join(dir, 'state.crt'), '-noout', '-text'],
      {
        encoding: 'utf8',
      },
    );
    expect(text).toMatch(/DNS:state, DNS:localhost, IP Address:127\.0\.0\.1/);
    expect(out).toBe('');
  });

  it('accepts a client with a certificate from the same CA (by name and by 127.0.0.1)', async () => {
    await expect(callTls(`localhost:${port}`, tlsOf(dir, 'scheduler'))).resolves.toEqual({
      known: true,
    });
    await expect(callTls(`127.0.0.1:${port}`, tlsOf(dir, 'api'))).resolves.toEqual({
      known: true,
    });
  });

  it('refuses a client that presents no certificate', async () => {
    const ca = readFileSync(join(dir, 'ca.crt'));
    await refused(callWith(credentials.createSsl(ca)));
  });

  it('refuses a client whose certificate another CA signed', async () => {
    const other = tlsOf(otherDir, 'scheduler');
    const ca = readFileSync(join(dir, 'ca.crt'));
    // It trusts the server (our CA) but presents a certificate the server does not trust.
    await refused(callWith(credentials.createSsl(ca, other.key, other.cert)));
  });

  it('refuses a plaintext client', async () => {
    await refused(callWith(credentials.createInsecure()));
  });

  it('makes the client refuse a server whose certificate does not name the host dialled', async () => {
    // 127.0.0.2 reaches the same server (loopback) but is not on the agent certificate…
    await refused(callTls(`127.0.0.2:${port}`, tlsOf(dir, 'scheduler')));
    // …unless agents are checked against the name `agent` (GRPC_TLS_AGENT_NAME).
    await expect(
      callTls(`127.0.0.2:${port}`, tlsOf(dir, 'scheduler', { GRPC_TLS_AGENT_NAME: 'agent' })),
    ).resolves.toEqual({ known: true });
  });
});
