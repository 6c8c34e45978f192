import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { evaluateFolder } from '../../src/pipelines/evaluate.js';
import { cropNpzCase } from '../cli/cropCase.js';

/**
 * The click protocol on the three shared CT lesions (cropped to the lesion's slices ± 1, so the
 * encoder runs on ~9 slices each): DSC after each of 3 simulated clicks never falls more than 0.01
 * below the one-box DSC, and report.json carries clicks / NoC per case and their means.
 */
const shared = '../shared/data/ct-lesion';
const skip = !existsSync(shared) && 'needs ../shared/data (ct-lesion)';
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-clicks-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('simulated clicks on the shared CT lesions never lose more than 0.01 DSC; report carries clicks and NoC', { skip }, async () => {
  const dir = join(tmp, 'lesions');
  mkdirSync(dir);
  const crops: [string, number, number][] = [
    ['CT_Lesion_000001_02_01_008-023', 4, 12],
    ['CT_Lesion_000002_03_01_035-047', 2, 10],
    ['CT_Lesion_000009_03_01_036-048', 2, 10],
  ];
  for (const [name, z0, z1] of crops) await cropNpzCase(join(shared, `${name}.npz`), join(dir, `${name}.npz`), z0, z1);
  const out = join(tmp, 'report');
  const r = await evaluateFolder(dir, { outDir: out, clicks: 3, threads: 2 });
  assert.equal(r.cases.length, 3);
  for (const c of r.cases) {
    assert.deepEqual(
      c.clicks!.map((x) => x.k),
      [1, 2, 3],
    );
    for (const x of c.clicks!)
      assert.ok(x.dsc >= c.dsc - 0.01, `${c.case}: DSC ${x.dsc.toFixed(4)} after click ${x.k} < box DSC ${c.dsc.toFixed(4)} - 0.01`);
    const reach = (t: number) => (c.dsc >= t ? 0 : c.clicks!.findIndex((x) => x.dsc >= t) + 1 || 4);
    assert.equal(c.noc85, reach(0.85));
    assert.equal(c.noc90, reach(0.9));
  }
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.deepEqual(Object.keys(json.cases[0]).slice(-3), ['clicks', 'noc85', 'noc90']);
  assert.equal(json.mean.dscAfterClicks.length, 3);
  assert.ok(Math.abs(json.mean.noc90 - r.cases.reduce((s, c) => s + c.noc90!, 0) / 3) < 1e-12);
});
