import { initial } from './0001_initial';

export interface Migration {
  /** Sortable, unique and never reused. */
  id: string;
  sql: string;
}

/** Every migration, in the order it is applied. Append only. */
export const MIGRATIONS: Migration[] = [{ id: '0001_initial', sql: initial }];
