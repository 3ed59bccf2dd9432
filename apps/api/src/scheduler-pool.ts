import {
  createSchedulerClient,
  type GrpcClient,
  isUnreachable,
  type schedulerV1,
} from '@wharf/proto';
import { catchError, defer, Observable, throwError } from 'rxjs';

/** Nest injection token of the api's one scheduler client (the pool below). */
export const SCHEDULER_CLIENT = Symbol('SCHEDULER_CLIENT');

/**
 * Hands calls to `members` in turn. A call that fails with UNAVAILABLE is made once more on
 * the next member (it never reached the first, so nothing is done twice); any other outcome,
 * and the second attempt's, is the caller's. The member is chosen when the call is subscribed.
 */
export class RoundRobin<C> {
  private next = 0;

  constructor(private readonly members: readonly C[]) {
    if (members.length === 0) throw new Error('RoundRobin needs at least one member');
  }

  call<T>(invoke: (member: C) => Observable<T>): Observable<T> {
    return defer(() => {
      const n = this.members.length;
      const first = this.next;
      this.next = (first + 1) % n;
      const attempt = invoke(this.members[first]);
      if (n === 1) return attempt;
      return attempt.pipe(
        catchError((err: unknown) =>
          isUnreachable(err) ? invoke(this.members[(first + 1) % n]) : throwError(() => err),
        ),
      );
    });
  }
}

/**
 * One scheduler client over every replica in `urls` (SCHEDULER_URL): each method goes to the
 * replicas in turn, with one retry on the next replica when a replica is down.
 */
export function createSchedulerPool(
  urls: readonly string[],
): GrpcClient<schedulerV1.SchedulerServiceClient> {
  const replicas = urls.map((url) => createSchedulerClient(url));
  const pool = new RoundRobin(replicas.map((r) => r.client));
  return {
    client: {
      runTask: (req) => pool.call((s) => s.runTask(req)),
      stopTask: (req) => pool.call((s) => s.stopTask(req)),
      startTask: (req) => pool.call((s) => s.startTask(req)),
      explain: (req) => pool.call((s) => s.explain(req)),
    },
    close: () => replicas.forEach((r) => r.close()),
  };
}
