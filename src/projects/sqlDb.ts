/**
 * The little SQL surface the project repository needs, so one repository (projectRepository.ts)
 * and one list of migrations serve both SQLite (embedded default) and PostgreSQL (teams).
 * SQL is written with `?` placeholders; the PostgreSQL driver numbers them ($1, $2, …).
 */
export interface SqlDb {
  readonly dialect: 'sqlite' | 'postgres';
  /** Rows of a SELECT (column names as in the SQL, lower case). */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** An INSERT/UPDATE/DELETE; returns the rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Several statements without parameters (a migration). */
  exec(script: string): Promise<void>;
  /** `fn` inside one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Whether a driver error is a primary-key/unique violation (a concurrent insert won the race). */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
