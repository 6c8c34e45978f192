import Database from 'better-sqlite3';
import type { SqlDb } from './sqlDb.js';

/**
 * SqlDb on an embedded SQLite file (better-sqlite3 12: v13 needs Node 22). WAL with
 * synchronous=NORMAL: a commit is written to the WAL (the OS's page cache) before it returns, so a
 * committed row survives kill -9 of the process; only an OS crash or power loss can drop the last
 * commits. FULL's fsync per commit cost every click several ms (test/server/recovery.test.ts).
 * better-sqlite3 is synchronous; a promise chain keeps one async transaction at a time on the
 * connection (BEGIN IMMEDIATE also serialises writers across processes).
 */
export class SqliteDb implements SqlDb {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
  }

  private raw(): SqlDb {
    const db = this.db;
    const self = this;
    return {
      dialect: 'sqlite',
      async query<T>(sql: string, params: readonly unknown[] = []) {
        return db.prepare(sql).all(...params) as T[];
      },
      async run(sql: string, params: readonly unknown[] = []) {
        return db.prepare(sql).run(...params).changes;
      },
      async exec(script: string) {
        db.exec(script);
      },
      transaction<T>(fn: (tx: SqlDb) => Promise<T>) {
        return fn(this);
      },
      close: () => self.close(),
    };
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.locked(() => this.raw().query<T>(sql, params));
  }
  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.locked(() => this.raw().run(sql, params));
  }
  exec(script: string): Promise<void> {
    return this.locked(() => this.raw().exec(script));
  }
  transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T> {
    return this.locked(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const r = await fn(this.raw());
        this.db.exec('COMMIT');
        return r;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    });
  }
  async close(): Promise<void> {
    await this.chain;
    this.db.close();
  }
}
