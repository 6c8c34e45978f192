/**
 * `eval` reads every case's image and reference before the model opens: a folder where no case
 * has a reference, a reference that cannot be read, or one off its image's grid fails with one
 * line naming the case (exit 2, no report, no previews folder) even when good cases come first.
 * A case without a reference among cases that have one is still skipped during the run. Small
 * generated cases, no shared data; the model open is counted in-process (stubModelOpen).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MedsamError } from '../../src/common/errors.js';
import { writeNpz } from '../../src/io/npzFile.js';
import { evaluateFolder } from '../../src/pipelines/evaluate.js';
import { assertUserError, runCli } from '../helpers/cli.js';
import { ModelOpened, stubModelOpen, writeNrrdCase } from '../helpers/evalCases.js';

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-eval-refs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A MedSAM2 .npz with its image only (no `gts`). */
async function writeImageOnlyNpz(path: string): Promise<void> {
  await writeNpz(path, { imgs: { dtype: 'uint8', shape: [4, 16, 16], data: new Uint8Array(4 * 16 * 16).fill(90) } });
}

describe('eval checks each case’s reference before the model opens', () => {
  const noRefs = join(tmp, 'no-refs');
  const unreadable = join(tmp, 'unreadable');
  const offGrid = join(tmp, 'off-grid');
  const mixed = join(tmp, 'mixed');
  const model = stubModelOpen();
  before(async () => {
    for (const d of [noRefs, unreadable, offGrid, mixed]) mkdirSync(d);
    await writeImageOnlyNpz(join(noRefs, 'a.npz'));
    await writeImageOnlyNpz(join(noRefs, 'b.npz'));
    writeNrrdCase(noRefs, 'c', []); // an empty reference
    // A good case first, then one whose label file is not an image.
    writeNrrdCase(unreadable, 'a-good', [1]);
    writeNrrdCase(unreadable, 'z-broken', [1]);
    writeFileSync(join(unreadable, 'z-broken-label.nrrd'), 'not a NRRD file\n');
    writeNrrdCase(offGrid, 'a-good', [1]);
    writeNrrdCase(offGrid, 'z-thin', [1], { labelDepth: 3 });
    writeNrrdCase(mixed, 'a-good', [1]);
    await writeImageOnlyNpz(join(mixed, 'b-no-gts.npz'));
  });

  const evaluate = (dir: string) => evaluateFolder(dir, { outDir: join(tmp, 'out'), previewsDir: join(tmp, 'previews') });

  it('no case with a reference: each case named with why, no model opened', async () => {
    const opens = model.opens;
    await assert.rejects(evaluate(noRefs), (e: unknown) => {
      assert.ok(e instanceof MedsamError, String(e));
      assert.equal(
        e.message,
        `none of the 3 case(s) in ${noRefs} has a usable reference mask (a: no reference mask (gts) in the file; b: no reference mask (gts) in the file; c: the reference mask is empty) — give each case its reference: a .npz with gts, or a label file beside the image (x_seg.nii.gz, x-label.nrrd) or in the manifest`,
      );
      return true;
    });
    assert.equal(model.opens, opens, 'no model was opened');
  });

  it('an unreadable reference after a good case: that case named, no model opened', async () => {
    const opens = model.opens;
    await assert.rejects(evaluate(unreadable), /^MedsamError: case z-broken: .*z-broken-label\.nrrd/);
    assert.equal(model.opens, opens);
  });

  it('a reference off its image’s grid after a good case: that case named with the fix, no model opened', async () => {
    const opens = model.opens;
    await assert.rejects(
      evaluate(offGrid),
      /^MedsamError: case z-thin: .*z-thin-label\.nrrd is not on the grid of .*z-thin\.nrrd \(dims 16x16x3 vs 16x16x4.* — resample the label onto the image grid$/,
    );
    assert.equal(model.opens, opens);
  });

  it('a case without a reference among good ones is skipped at run time: the run goes on to the model', async () => {
    await assert.rejects(evaluate(mixed), ModelOpened);
  });

  it('the CLI: one line naming the case, exit 2, no report and no previews folder', () => {
    const out = join(tmp, 'cli-out');
    const previews = join(tmp, 'cli-previews');
    for (const [dir, message] of [
      [noRefs, /none of the 3 case\(s\) in .* has a usable reference mask \(a: no reference mask \(gts\) in the file;/],
      [unreadable, /case z-broken: .*z-broken-label\.nrrd/],
      [offGrid, /case z-thin: .*not on the grid/],
    ] as const) {
      assertUserError(runCli(['eval', dir, '--out', out, '--previews', previews]), message, out);
      assert.equal(existsSync(previews), false, `${previews} must not exist after a failed run`);
    }
  });
});
