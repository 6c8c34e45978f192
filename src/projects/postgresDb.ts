import pg from 'pg';
import type { SqlDb } from './sqlDb.js';

/** `?` placeholders → `$1, $2, …` (the repository's SQL has no `?` inside string literals). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

// BIGINT (epoch ms) arrives as a string by default; our values fit a double exactly.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

type Queryable = Pick<pg.PoolClient, 'query'>;

function wrap(q: Queryable, owner: PostgresDb): SqlDb {
  return {
    dialect: 'postgres',
    async query<T>(sql: string, params: readonly unknown[] = []) {
      return (await q.query(numberPlaceholders(sql), [...params])).rows as T[];
    },
    async run(sql: string, params: readonly unknown[] = []) {
      return (await q.query(numberPlaceholders(sql), [...params])).rowCount ?? 0;
    },
    async exec(script: string) {
      await q.query(script);
    },
    transaction<T>(fn: (tx: SqlDb) => Promise<T>) {
      return fn(this);
    },
    close: () => owner.close(),
  };
}

/** SqlDb on a PostgreSQL server through a `pg` pool; each transaction holds one client. */
export class PostgresDb implements SqlDb {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(connectionString: string) {
    // Idle clients are kept (a server queries all the time; reconnecting costs a handshake), and a
    // connect may wait out a busy event loop (model runs in-process) before it counts as failed.
    this.pool = new pg.Pool({ connectionString, max: 8, connectionTimeoutMillis: 30_000, idleTimeoutMillis: 300_000 });
    // An idle client losing its server must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
  }

  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return wrap(this.pool, this).query<T>(sql, params);
  }
  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return wrap(this.pool, this).run(sql, params);
  }
  exec(script: string): Promise<void> {
    return wrap(this.pool, this).exec(script);
  }
  async transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const r = await fn(wrap(client, this));
      await client.query('COMMIT');
      return r;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}
