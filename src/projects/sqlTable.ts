import type { SqlDb } from './sqlDb.js';

/**
 * One table's row ↔ object mapping, declared once and shared by both SQL repositories (the
 * projects' projectRepository.ts and the server's store/sqlRepository.ts): which column holds each
 * field and how its value is stored (JSON as TEXT; numbers read back with Number() because
 * PostgreSQL returns BIGINT as a string), plus the INSERT / SELECT / UPDATE statements built from
 * that, so SQLite and PostgreSQL run the same SQL. Hand-written on purpose: an ORM or query builder
 * (knex, drizzle, …) is a far larger dependency than these lines and would hide the SQL that the
 * numbered migrations define. Column names are double-quoted (PostgreSQL reserves `window`).
 */

export type Row = Record<string, unknown>;

export interface Column {
  readonly name: string;
  readonly kind: 'text' | 'number' | 'json';
  readonly nullable: boolean;
}

const column =
  (kind: Column['kind'], nullable: boolean) =>
  (name: string): Column => ({ name, kind, nullable });
export const text = column('text', false);
export const optText = column('text', true);
export const num = column('number', false);
export const optNum = column('number', true);
export const json = column('json', false);
export const optJson = column('json', true);

/** Conditions on fields: undefined is no condition, an array (non-empty) is IN (…), anything else is =. */
export type Where<T> = { [K in keyof T]?: T[K] | readonly T[K][] | undefined };

const quote = (name: string) => `"${name}"`;

function decodeValue(v: unknown, c: Column): unknown {
  if (v === null || v === undefined) return c.nullable ? null : v;
  if (c.kind === 'number') return Number(v);
  if (c.kind === 'json') return c.nullable && v === '' ? null : JSON.parse(v as string);
  return v;
}

function encodeValue(v: unknown, c: Column): unknown {
  if (v === null || v === undefined) return null;
  return c.kind === 'json' ? JSON.stringify(v) : v;
}

/** Which part of an ordered SELECT to read (SqlTable.select). */
export interface SelectPage {
  descending?: boolean;
  limit?: number;
  /** The order key (one value per order field) the rows start after: keyset paging. */
  after?: readonly unknown[];
}

export class SqlTable<T extends object> {
  private readonly fields: readonly [keyof T & string, Column][];

  constructor(
    readonly name: string,
    columns: { readonly [K in keyof T]-?: Column },
  ) {
    if (!/^\w+$/.test(name)) throw new Error(`bad table name ${name}`);
    this.fields = Object.entries(columns) as [keyof T & string, Column][];
  }

  private column(field: string): Column {
    const c = this.fields.find(([k]) => k === field)?.[1];
    if (!c) throw new Error(`unknown field ${field} of table ${this.name}`);
    return c;
  }

  /** A row as SELECT * returns it → the object. */
  decode(r: Row): T {
    const out: Record<string, unknown> = {};
    for (const [k, c] of this.fields) out[k] = decodeValue(r[c.name], c);
    return out as T;
  }

  private where(where: Where<T>): { sql: string; args: unknown[] } {
    const conds: string[] = [];
    const args: unknown[] = [];
    for (const [k, v] of Object.entries(where)) {
      if (v === undefined) continue;
      const c = this.column(k);
      if (Array.isArray(v)) {
        if (v.length === 0) continue;
        conds.push(`${quote(c.name)} IN (${v.map(() => '?').join(', ')})`);
        args.push(...v.map((x) => encodeValue(x, c)));
      } else {
        conds.push(`${quote(c.name)} = ?`);
        args.push(encodeValue(v, c));
      }
    }
    return { sql: conds.length ? ` WHERE ${conds.join(' AND ')}` : '', args };
  }

  async insert(db: SqlDb, obj: T): Promise<void> {
    await db.run(
      `INSERT INTO ${this.name} (${this.fields.map(([, c]) => quote(c.name)).join(', ')}) VALUES (${this.fields.map(() => '?').join(', ')})`,
      this.fields.map(([k, c]) => encodeValue(obj[k], c)),
    );
  }

  /**
   * The rows matching `where`, ordered by these fields (ascending, or descending).
   * `page.limit` caps how many; `page.after` (one value per `orderBy` field) keeps only the rows that
   * come after that key in this order (keyset paging: a row-value comparison, SQLite and PostgreSQL alike).
   */
  async select(db: SqlDb, where: Where<T> = {}, orderBy: readonly (keyof T & string)[] = [], page: SelectPage = {}): Promise<T[]> {
    const w = this.where(where);
    const cols = orderBy.map((k) => quote(this.column(k).name));
    const dir = page.descending ? ' DESC' : '';
    let sql = w.sql;
    const args = [...w.args];
    if (page.after) {
      if (page.after.length !== cols.length) throw new Error(`a page key of table ${this.name} has one value per order field`);
      sql += `${sql ? ' AND' : ' WHERE'} (${cols.join(', ')}) ${page.descending ? '<' : '>'} (${cols.map(() => '?').join(', ')})`;
      args.push(...page.after);
    }
    const order = cols.length ? ` ORDER BY ${cols.map((c) => `${c}${dir}`).join(', ')}` : '';
    const limit = page.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(page.limit))}` : '';
    return (await db.query(`SELECT * FROM ${this.name}${sql}${order}${limit}`, args)).map((r) => this.decode(r));
  }

  async one(db: SqlDb, where: Where<T>): Promise<T | undefined> {
    return (await this.select(db, where))[0];
  }

  async exists(db: SqlDb, where: Where<T>): Promise<boolean> {
    const w = this.where(where);
    return (await db.query(`SELECT 1 AS one FROM ${this.name}${w.sql} LIMIT 1`, w.args)).length > 0;
  }

  /** Sets the fields of `patch` (undefined ones skipped) on the rows matching `where`; returns how many rows changed. */
  async update(db: SqlDb, patch: Partial<T>, where: Where<T>): Promise<number> {
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      const c = this.column(k);
      sets.push(`${quote(c.name)} = ?`);
      args.push(encodeValue(v, c));
    }
    const w = this.where(where);
    return db.run(`UPDATE ${this.name} SET ${sets.join(', ')}${w.sql}`, [...args, ...w.args]);
  }

  /** The next per-key sequence number (MAX(seq) + 1, from 1) of `field` among the rows matching `where`. */
  async nextSeq(db: SqlDb, field: keyof T & string, where: Where<T>): Promise<number> {
    const w = this.where(where);
    const [r] = await db.query<{ n: number | string | null }>(
      `SELECT MAX(${quote(this.column(field).name)}) AS n FROM ${this.name}${w.sql}`,
      w.args,
    );
    return Number(r?.n ?? 0) + 1;
  }
}

/** The columns both job tables (the server's `jobs`, the projects' `project_jobs`) have in common. */
export const JOB_COLUMNS = {
  id: text('id'),
  owner: text('owner'),
  request: json('request'),
  status: text('status'),
  progress: num('progress'),
  error: optText('error'),
  resultSha: optText('result_sha'),
  result: optJson('result'),
  createdAt: text('created_at'),
  updatedAt: text('updated_at'),
} as const;
