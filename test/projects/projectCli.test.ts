import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readNpz, writeNpz } from '../../src/io/npzFile.js';
import { assertUserError, runCli } from '../helpers/cli.js';

/** The CLI verbs a scripted annotator uses, on a small synthetic case (no model run), and its refusals. */
test('medsam2 project: create, add, claim, log, save, conflict, submit, review, versions, diff, report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-projcli-'));
  try {
    const dims = [6, 40, 48];
    const imgs = new Uint8Array(48 * 40 * 6).map((_, i) => i % 251);
    const gts = new Uint8Array(imgs.length).map((_, i) => (i % 48 > 10 && i % 48 < 30 && Math.floor(i / 48) % 40 > 8 ? 1 : 0));
    await writeNpz(join(dir, 'm1.npz'), { imgs: { dtype: 'uint8', shape: dims, data: imgs } });
    await writeNpz(join(dir, 'mask.npz'), { gts: { dtype: 'uint8', shape: dims, data: gts } });
    const env = { ...process.env, MEDSAM2_PROJECT_DB: `sqlite:${join(dir, 'p.db')}` };
    const ok = (args: string[]) => {
      const r = runCli(['project', ...args], env);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    assertUserError(runCli(['project', 'status'], { ...process.env, MEDSAM2_PROJECT_DB: '' }), /no project database given/);
    assertUserError(runCli(['project', 'status'], env), /has no project yet/);
    assert.match(
      ok(['create', '--name', 'demo', '--label', 'lesion:#ff0000:52988006', '--member', 'ann:annotator', '--member', 'rev:reviewer']),
      /created project demo/,
    );
    assertUserError(runCli(['project', 'create', '--name', 'demo'], env), /already exists/);
    assert.match(ok(['add-cases', '--mode', 'manual', join(dir, 'm1.npz')]), /added 1 manual case/);
    assert.equal(ok(['next', '--user', 'ann']).trim(), 'm1');
    ok(['claim', 'm1', '--user', 'ann']);
    for (const [k, at] of [
      [0, 1000],
      [1, 4000],
      [1, 9000],
    ] as const)
      ok(['log', 'm1', '--user', 'ann', '--tool', 'brush', '--slice', String(k), '--at', String(at)]);
    const bad = new Uint8Array(gts.length);
    bad[5] = 7;
    await writeNpz(join(dir, 'bad.npz'), { gts: { dtype: 'uint8', shape: dims, data: bad } });
    assertUserError(
      runCli(['project', 'save', 'm1', '--user', 'ann', '--mask', join(dir, 'bad.npz'), '--base', '-1'], env),
      /value 7 at voxel 5, not a label of project demo/,
    );
    assert.match(ok(['save', 'm1', '--user', 'ann', '--mask', join(dir, 'mask.npz'), '--base', '-1']), /version 0/);
    const stale = runCli(['project', 'save', 'm1', '--user', 'ann', '--mask', join(dir, 'mask.npz'), '--base', '-1'], env);
    assert.equal(stale.code, 3, stale.stderr);
    assert.match(stale.stderr, /^medsam2: error: case m1 is at version 0, this save was based on version -1/);
    ok(['submit', 'm1', '--user', 'ann']);
    assertUserError(runCli(['project', 'review', 'm1', '--user', 'rev', '--return'], env), /needs a comment/);
    assert.match(ok(['review', 'm1', '--user', 'rev', '--accept']), /accepted/);
    assert.match(ok(['versions', 'm1']), /^v0 .* ann /m);
    assert.match(ok(['diff', 'm1', '0', '0']), /DSC 1\.0000/);
    assert.match(ok(['status', '--cases']), /1 accepted/);
    const rep = ok(['report', '--out', join(dir, 'rep')]);
    assert.match(rep, /round 1: 0 assisted, 1 manual accepted; median active — s vs 8\.0 s manual/);
    const json = JSON.parse(readFileSync(join(dir, 'rep', 'report.json'), 'utf8'));
    assert.equal(json.cases[0].activeSeconds, 8);
    assert.equal(json.cases[0].slicesTouched, 2);
    assertUserError(runCli(['project', 'report', '--out', join(dir, 'rep')], env), /not a new or empty folder/);
    ok(['export', '--round', '1', '--format', 'nifti', '--out', join(dir, 'nii')]);
    assert.ok(existsSync(join(dir, 'nii', 'labelsTr', 'm1.nii.gz')) && existsSync(join(dir, 'nii', 'imagesTr', 'm1_0000.nii.gz')));
    ok(['show', 'm1', '0', '-o', join(dir, 'v0.npz')]);
    assert.deepEqual(Array.from((await readNpz(join(dir, 'v0.npz'))).segs!.data as Uint8Array), Array.from(gts));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
