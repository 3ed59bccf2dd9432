import { GrpcCode } from '@wharf/domain';
import { firstValueFrom, Observable, of, throwError } from 'rxjs';
import { apiConfigSchema } from './config';
import { RoundRobin } from './scheduler-pool';

const failWith = (code: number) => throwError(() => ({ code, details: `code ${code}` }));

describe('RoundRobin', () => {
  /** A replica named `name` that answers with its name, or fails as `down` says. */
  const replicas = ['a', 'b', 'c'];
  let calls: string[];
  let down: Map<string, number>;
  const invoke = (name: string): Observable<string> => {
    calls.push(name);
    const code = down.get(name);
    return code === undefined ? of(name) : failWith(code);
  };

  beforeEach(() => {
    calls = [];
    down = new Map();
  });

  it('hands calls to the members in turn', async () => {
    const pool = new RoundRobin(replicas);
    const answers: string[] = [];
    for (let i = 0; i < 7; i++) answers.push(await firstValueFrom(pool.call(invoke)));
    expect(answers).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    expect(calls).toEqual(answers);
  });

  it('chooses the member when the call is subscribed, not when it is made', async () => {
    const pool = new RoundRobin(replicas);
    const first = pool.call(invoke);
    const second = pool.call(invoke);
    expect(await firstValueFrom(second)).toBe('a');
    expect(await firstValueFrom(first)).toBe('b');
  });

  it('tries a call that finds its member UNAVAILABLE once more on the next member', async () => {
    down.set('b', GrpcCode.UNAVAILABLE);
    const pool = new RoundRobin(replicas);
    expect(await firstValueFrom(pool.call(invoke))).toBe('a');
    expect(await firstValueFrom(pool.call(invoke))).toBe('c');
    expect(calls).toEqual(['a', 'b', 'c']);
    // The turn moves on by one per call, whatever the failover did.
    expect(await firstValueFrom(pool.call(invoke))).toBe('c');
  });

  it('gives up after the second member, with its error', async () => {
    down.set('a', GrpcCode.UNAVAILABLE).set('b', GrpcCode.UNAVAILABLE);
    const pool = new RoundRobin(replicas);
    await expect(firstValueFrom(pool.call(invoke))).rejects.toMatchObject({
      code: GrpcCode.UNAVAILABLE,
    });
    expect(calls).toEqual(['a', 'b']);
  });

  it('does not retry any other failure: the call reached the member', async () => {
    down.set('a', GrpcCode.INTERNAL);
    const pool = new RoundRobin(replicas);
    await expect(firstValueFrom(pool.call(invoke))).rejects.toMatchObject({
      code: GrpcCode.INTERNAL,
    });
    down.set('b', GrpcCode.DEADLINE_EXCEEDED);
    await expect(firstValueFrom(pool.call(invoke))).rejects.toMatchObject({
      code: GrpcCode.DEADLINE_EXCEEDED,
    });
    expect(calls).toEqual(['a', 'b']);
  });

  it('with one member, fails as that member fails', async () => {
    down.set('a', GrpcCode.UNAVAILABLE);
    const pool = new RoundRobin(['a']);
    await expect(firstValueFrom(pool.call(invoke))).rejects.toMatchObject({
      code: GrpcCode.UNAVAILABLE,
    });
    expect(calls).toEqual(['a']);
  });
});

describe('SCHEDULER_URL', () => {
  const parse = (value?: string) => apiConfigSchema.parse({ SCHEDULER_URL: value }).SCHEDULER_URL;

  it('is one replica or a comma-separated list of them', () => {
    expect(parse(undefined)).toEqual(['127.0.0.1:4702']);
    expect(parse('scheduler:4702')).toEqual(['scheduler:4702']);
    expect(parse(' s1:4702, s2:4702 ,s1:4702,')).toEqual(['s1:4702', 's2:4702']);
  });

  it('rejects an entry that is not host:port, naming it', () => {
    for (const bad of ['', 's1', 's1:4702,s2', 's1:99999', 'http://s1:4702', ',']) {
      const result = apiConfigSchema.safeParse({ SCHEDULER_URL: bad });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0].path).toEqual(['SCHEDULER_URL']);
    }
    expect(
      apiConfigSchema.safeParse({ SCHEDULER_URL: 's1:1,s2' }).error?.issues[0].message,
    ).toMatch(/bad entry "s2"/);
  });
});
