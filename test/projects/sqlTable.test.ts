/**
 * The shared row codec (src/projects/sqlTable.ts) on a real SQLite file: objects go in and come
 * back field for field (JSON, nulls, numbers), conditions skip undefined and turn arrays into IN,
 * a guarded update changes nothing once the status moved on, `window` (reserved by PostgreSQL) is
 * quoted, and an unknown field is refused rather than ignored. PostgreSQL runs the same statements
 * in test/server/projectsRound.test.ts and test/projects/projectRound.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SqliteDb } from '../../src/projects/sqliteDb.js';
import { SqlTable, json, num, optJson, optNum, optText, text } from '../../src/projects/sqlTable.js';

interface Thing {
  id: string;
  window: string | null;
  status: 'queued' | 'running' | 'done';
  size: number;
  dims: [number, number, number];
  result: unknown;
  slice: number | null;
}

const dir = mkdtempSync(join(tmpdir(), 'medsam2-sqltable-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('row codec: round trip, where/IN, guarded update, quoted columns, next seq, unknown fields refused', async () => {
  const db = new SqliteDb(join(dir, 't.sqlite'));
  await db.exec(`CREATE TABLE things (id TEXT PRIMARY KEY, "window" TEXT, status TEXT NOT NULL, size BIGINT NOT NULL,
    dims TEXT NOT NULL, result TEXT, slice INTEGER)`);
  const T = new SqlTable<Thing>('things', {
    id: text('id'),
    window: optText('window'),
    status: text('status'),
    size: num('size'),
    dims: json('dims'),
    result: optJson('result'),
    slice: optNum('slice'),
  });
  const a: Thing = { id: 'a', window: 'abdomen', status: 'queued', size: 2 ** 40, dims: [3, 4, 5], result: { x: [1, 2] }, slice: 0 };
  const b: Thing = { id: 'b', window: null, status: 'running', size: 1, dims: [1, 1, 1], result: null, slice: null };
  const c: Thing = { id: 'c', window: 'lung', status: 'done', size: 7, dims: [2, 2, 2], result: null, slice: 3 };
  for (const x of [b, a, c]) await T.insert(db, x);

  assert.deepEqual(await T.one(db, { id: 'a' }), a);
  assert.deepEqual(await T.one(db, { id: 'b' }), b);
  assert.equal(await T.one(db, { id: 'zz' }), undefined);
  assert.deepEqual(await T.select(db, {}, ['id']), [a, b, c]);
  assert.deepEqual(await T.select(db, { status: ['queued', 'done'] }, ['id']), [a, c]);
  assert.deepEqual(await T.select(db, { status: undefined, window: 'lung' }), [c]);
  assert.equal(await T.exists(db, { window: 'abdomen' }), true);
  assert.equal(await T.exists(db, { window: 'head' }), false);

  // Guarded: only while the status is still one of the given ones.
  assert.equal(await T.update(db, { status: 'done', result: { cases: 2 } }, { id: 'a', status: ['running'] }), 0);
  assert.deepEqual(await T.one(db, { id: 'a' }), a);
  assert.equal(await T.update(db, { status: 'running', window: null, result: { cases: 2 } }, { id: 'a', status: ['queued'] }), 1);
  assert.deepEqual(await T.one(db, { id: 'a' }), { ...a, status: 'running', window: null, result: { cases: 2 } });

  assert.equal(await T.nextSeq(db, 'slice', {}), 4);
  assert.equal(await T.nextSeq(db, 'slice', { id: 'b' }), 1);

  await assert.rejects(() => T.select(db, { nope: 1 } as never), /unknown field nope of table things/);
  await assert.rejects(() => T.update(db, { nope: 1 } as never, { id: 'a' }), /unknown field nope/);
  await db.close();
});
