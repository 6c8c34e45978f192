import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureWork, median } from '../../src/projects/activeTime.js';
import { nextState } from '../../src/projects/caseLifecycle.js';
import { numberPlaceholders } from '../../src/projects/postgresDb.js';
import { parseDbSpec } from '../../src/projects/openDb.js';
import { parseLabelSpec } from '../../src/projects/projectService.js';
import type { CaseRow } from '../../src/projects/types.js';

const NOW = Date.UTC(2026, 0, 1);
const base: CaseRow = {
  id: 'x',
  projectId: 'p',
  name: 'c1',
  source: '/x.npz',
  round: 1,
  mode: 'assisted',
  state: 'pre_annotated',
  dims: [2, 2, 2],
  spacing: [1, 1, 1],
  headVersion: 0,
  claimedBy: null,
  claimExpiresAt: null,
  submittedBy: null,
  reviewedBy: null,
  reviewComment: null,
  updatedAt: '',
};
const claimed = (by: string, lapsesInMs: number): CaseRow => ({
  ...base,
  state: 'in_progress',
  claimedBy: by,
  claimExpiresAt: new Date(NOW + lapsesInMs).toISOString(),
});

test('case life cycle: the allowed path and each refusal', () => {
  assert.equal(nextState({ ...base, state: 'new' }, 'pre-annotate', 'm', NOW), 'pre_annotated');
  assert.throws(() => nextState({ ...base, state: 'new' }, 'claim', 'alice', NOW), /no pre-annotation/);
  assert.equal(nextState({ ...base, state: 'new', mode: 'manual' }, 'claim', 'alice', NOW), 'in_progress');
  assert.equal(nextState(base, 'claim', 'alice', NOW), 'in_progress');
  assert.throws(() => nextState(claimed('alice', 60_000), 'claim', 'bob', NOW), /claimed by alice/);
  assert.equal(nextState(claimed('alice', -1), 'claim', 'bob', NOW), 'in_progress', 'a lapsed claim can be taken');
  assert.equal(nextState(claimed('alice', 60_000), 'save', 'alice', NOW), 'in_progress');
  assert.throws(() => nextState(claimed('alice', 60_000), 'save', 'bob', NOW), /claimed by alice, not bob/);
  assert.throws(() => nextState(claimed('alice', -1), 'save', 'alice', NOW), /lapsed/);
  assert.equal(nextState(claimed('alice', 60_000), 'submit', 'alice', NOW), 'submitted');
  const submitted: CaseRow = { ...base, state: 'submitted', submittedBy: 'alice' };
  assert.equal(nextState(submitted, 'accept', 'rev', NOW), 'accepted');
  assert.equal(nextState(submitted, 'return', 'rev', NOW), 'returned');
  assert.throws(() => nextState(submitted, 'accept', 'alice', NOW), /cannot review/);
  assert.throws(() => nextState({ ...base, state: 'accepted' }, 'save', 'alice', NOW), /is accepted: cannot save/);
  assert.throws(() => nextState(base, 'accept', 'rev', NOW), /cannot accept/);
  assert.equal(nextState({ ...base, state: 'returned' }, 'claim', 'alice', NOW), 'in_progress');
});

test('active time: gaps summed, each capped at the idle threshold', () => {
  const at = (s: number, slice: number | null = 0) => ({ at: NOW + s * 1000, slice });
  assert.deepEqual(measureWork([]), { activeSeconds: 0, interactions: 0, slicesTouched: 0 });
  assert.deepEqual(measureWork([at(0)]), { activeSeconds: 0, interactions: 1, slicesTouched: 1 });
  // 5 + 60 (a 10-minute pause, capped) + 2, in any order; slices 0, 3 and none.
  assert.deepEqual(measureWork([at(607, 3), at(0), at(5, null), at(605, 3)]), { activeSeconds: 67, interactions: 4, slicesTouched: 2 });
  assert.equal(measureWork([at(0), at(100)], 30).activeSeconds, 30);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), null);
});

test('--db and --label parsing; placeholders numbered for PostgreSQL', () => {
  assert.deepEqual(parseDbSpec('postgres://u@127.0.0.1:5432/db'), { kind: 'postgres', url: 'postgres://u@127.0.0.1:5432/db' });
  assert.equal(parseDbSpec('sqlite:/tmp/p.db').kind, 'sqlite');
  assert.throws(() => parseDbSpec('mysql://x'), /neither sqlite:PATH nor postgres/);
  assert.deepEqual(parseLabelSpec('lesion:#FF0000:52988006', 1), { value: 1, name: 'lesion', colour: '#ff0000', code: '52988006' });
  assert.equal(parseLabelSpec('liver', 2).code, null);
  assert.throws(() => parseLabelSpec('liver:red', 1), /not #RRGGBB/);
  assert.equal(numberPlaceholders('UPDATE t SET a = ?, b = ? WHERE id = ?'), 'UPDATE t SET a = $1, b = $2 WHERE id = $3');
});
