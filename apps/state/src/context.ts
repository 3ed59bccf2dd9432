import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { ArnContext } from '@wharf/domain';

/** What every use case and repository of this service shares. */
export interface StateContext {
  pool: Pool;
  arn: ArnContext;
  logger: Logger;
  agentHeartbeatTtlMs: number;
}

export const STATE_CONTEXT = Symbol('STATE_CONTEXT');
