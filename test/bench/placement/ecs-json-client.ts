import { Agent, request } from 'node:http';
import { AMZ_JSON_1_1, ECS_TARGET_PREFIX } from '../../../apps/api/src/protocol/target';

/** An ECS error answer: `__type` names the exception, as the AWS SDKs read it. */
export class EcsCallError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status: number,
  ) {
    super(`${type}: ${message}`);
  }
}

/**
 * The load generator's ECS client: the same wire protocol the AWS SDKs and CLI speak (POST /
 * with X-Amz-Target and a JSON body, over keep-alive connections), without their signing and
 * schema-driven (de)serialisation. The bench measures Wharf, and on a 2-core machine every
 * millisecond the clients spend is taken from the services: the SDK spent about 2 ms of CPU
 * per RunTask call, as much as the api. The api runs with API_AUTH=dev, which reads no
 * signature; the SDK itself is exercised by the api's and the e2e tests.
 */
export class EcsJsonClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(endpoint: string, maxSockets: number) {
    this.url = new URL(endpoint);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  /** Calls `operation` with `input`; resolves to the parsed answer, or rejects with an EcsCallError. */
  call<T>(operation: string, input: unknown): Promise<T> {
    const body = Buffer.from(JSON.stringify(input));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          path: '/',
          method: 'POST',
          headers: {
            'content-type': AMZ_JSON_1_1,
            'x-amz-target': `${ECS_TARGET_PREFIX}.${operation}`,
            'content-length': body.length,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Record<string, unknown>;
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              return reject(new Error(`${operation}: HTTP ${res.statusCode}, not JSON: ${text}`));
            }
            if (res.statusCode === 200) return resolve(parsed as T);
            const type = String(parsed.__type ?? 'UnknownError').replace(/^.*#/, '');
            const message = String(parsed.message ?? parsed.Message ?? text);
            reject(new EcsCallError(type, message, res.statusCode ?? 0));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  destroy(): void {
    this.agent.destroy();
  }
}
