import { InvalidParameterError } from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { StateContext } from './context';
import type { LeaseRepository } from './lease.repository';

/** AcquireLease / ReleaseLease: a named lease in Postgres (the service scheduler's leader). */
export class LeasesUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly leases: LeaseRepository,
  ) {}

  acquire(req: stateV1.AcquireLeaseRequest): Promise<stateV1.Lease> {
    checkNames(req);
    if (!Number.isInteger(req.ttlMs) || req.ttlMs <= 0) {
      throw new InvalidParameterError('ttl_ms must be a positive number of milliseconds.');
    }
    return this.leases.acquire(this.ctx.pool, req.name, req.holder, req.ttlMs);
  }

  release(req: stateV1.ReleaseLeaseRequest): Promise<stateV1.Lease> {
    checkNames(req);
    return this.leases.release(this.ctx.pool, req.name, req.holder);
  }
}

function checkNames(req: { name: string; holder: string }): void {
  if (!req.name) throw new InvalidParameterError('A lease needs a name.');
  if (!req.holder) throw new InvalidParameterError('A lease needs a holder.');
}
