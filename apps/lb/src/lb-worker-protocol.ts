import type { LiveSnapshot } from './live-config';
import type { ProxyOptions } from './proxy';

/**
 * The IPC messages between the lb's primary process and its workers (node:cluster's channel).
 * Every message type is named here; the `lb:` prefix keeps them apart from prom-client's
 * and node's own messages on the same channel.
 */

/** The environment variable that carries a worker's `WorkerInit` (JSON) from the primary. */
export const LB_WORKER_ENV = 'WHARF_LB_WORKER';

export interface WorkerInit {
  logLevel: string;
  proxy: ProxyOptions;
}

export type PrimaryMessage =
  /** the whole live configuration; `seq` grows with every change */
  | { type: 'lb:config'; seq: number; snapshot: LiveSnapshot }
  | { type: 'lb:metrics-request'; requestId: number }
  /** stop accepting, finish the requests in flight (up to the close grace), exit */
  | { type: 'lb:shutdown' };

export type WorkerMessage =
  /** the worker listens for messages: send it the configuration */
  | { type: 'lb:hello' }
  /** configuration `seq` applied; these listener ports are open */
  | { type: 'lb:applied'; seq: number; ports: number[] }
  | { type: 'lb:metrics'; requestId: number; metrics: object[] };
