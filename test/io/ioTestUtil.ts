// Shared helpers for the src/io tests (not a test file itself).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Volume } from '../../src/io/volume.js';

/** Shared data root, relative to the repo root (override with MEDSAM2_SHARED_DATA). */
export const DATA = process.env.MEDSAM2_SHARED_DATA ?? '../shared/data';
export const data = (p: string): string => join(DATA, p);
export const skipUnless = (p: string): false | string => !existsSync(data(p)) && `needs ../shared/data/${p}`;

const made: string[] = [];
process.on('exit', () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A fresh temp folder, removed when the test process exits. */
export function tmp(prefix = 'medsam2-io-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Largest absolute difference between two numeric lists. */
function maxDiff(a: readonly number[], b: readonly number[]): number {
  assert.equal(a.length, b.length);
  return Math.max(0, ...a.map((x, i) => Math.abs(x - b[i])));
}

/** dims equal; spacing/origin/direction equal (tol 0 = bit-exact). */
export function assertSameGeometry(got: Volume, want: Volume, tol: number, what = ''): void {
  assert.deepEqual(got.dims, want.dims, `${what} dims`);
  if (tol === 0) {
    assert.deepEqual(got.spacing, want.spacing, `${what} spacing`);
    assert.deepEqual(got.origin, want.origin, `${what} origin`);
    assert.deepEqual(got.direction, want.direction, `${what} direction`);
  } else {
    assert.ok(maxDiff(got.spacing, want.spacing) <= tol, `${what} spacing ${got.spacing} vs ${want.spacing}`);
    assert.ok(maxDiff(got.origin, want.origin) <= tol, `${what} origin ${got.origin} vs ${want.origin}`);
    assert.ok(maxDiff(got.direction, want.direction) <= tol, `${what} direction ${got.direction} vs ${want.direction}`);
  }
}

/** Same label value in every voxel; reports the first mismatch. */
export function assertSameLabels(got: Volume['data'], want: Volume['data'], what = ''): void {
  assert.equal(got.length, want.length, `${what} voxel count`);
  for (let i = 0; i < want.length; i++) {
    if (Number(got[i]) !== Number(want[i])) assert.fail(`${what} voxel ${i}: got ${got[i]}, want ${want[i]}`);
  }
}

/** A mask on v's grid: 1 where the intensity is above the mean. */
export function thresholdMask(v: Volume): Volume {
  let sum = 0;
  for (let i = 0; i < v.data.length; i++) sum += Number(v.data[i]);
  const mean = sum / v.data.length;
  return { ...v, data: Uint8Array.from(v.data as ArrayLike<number>, (x) => (Number(x) > mean ? 1 : 0)), header: undefined };
}

export function countNonzero(d: Volume['data']): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (Number(d[i]) !== 0) n++;
  return n;
}
