/**
 * `eval --labels` is checked against the references before any model work: a label no case holds
 * (or one a manifest asks of a case that lacks it) fails with one line naming the label(s), the
 * case(s) and the labels present; exit 2, nothing written. Values that are not integers >= 1 fail
 * the same way. Small synthetic cases (x.nrrd + x-label.nrrd), no shared data; the model open is
 * counted in-process (ObjectSegmenter.open), so "before any model" is asserted, not timed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MedsamError } from '../../src/common/errors.js';
import { encodeNrrd } from '../../src/io/nrrdWrite.js';
import type { Volume } from '../../src/io/volume.js';
import { evaluateFolder } from '../../src/pipelines/evaluate.js';
import { ObjectSegmenter } from '../../src/pipelines/objectSegmenter.js';
import { assertUserError, runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-eval-labels-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A 16x16x4 case whose reference holds `labels` (one 4x4 square each, on every slice). */
function writeCase(dir: string, name: string, labels: number[]): void {
  const dims: [number, number, number] = [16, 16, 4];
  const img = new Uint8Array(16 * 16 * 4);
  const seg = new Uint8Array(img.length);
  labels.forEach((l, i) => {
    for (let z = 0; z < 4; z++)
      for (let y = 4 * i; y < 4 * i + 4; y++)
        for (let x = 2; x < 6; x++) {
          seg[z * 256 + y * 16 + x] = l;
          img[z * 256 + y * 16 + x] = 200;
        }
  });
  const vol = (data: Uint8Array): Volume => ({
    data,
    dims,
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    source: { format: 'nrrd', path: '' },
  });
  writeFileSync(join(dir, `${name}.nrrd`), encodeNrrd(vol(img), `${name}.nrrd`));
  writeFileSync(join(dir, `${name}-label.nrrd`), encodeNrrd(vol(seg), `${name}-label.nrrd`));
}

/** A sentinel: the model open the checks must come before. */
class ModelOpened extends Error {}

describe('eval --labels is checked before any model work', () => {
  const one = join(tmp, 'one');
  const two = join(tmp, 'two');
  const opened: unknown[] = [];
  const open = ObjectSegmenter.open;
  before(() => {
    mkdirSync(one);
    writeCase(one, 'abdomen', [2, 4]);
    mkdirSync(two);
    writeCase(two, 'a', [1, 2]);
    writeCase(two, 'b', [1]);
    ObjectSegmenter.open = async (opts) => {
      opened.push(opts);
      throw new ModelOpened('model opened');
    };
  });
  after(() => {
    ObjectSegmenter.open = open;
  });

  const evaluate = (dir: string, labels: 'all' | number[]) => evaluateFolder(dir, { outDir: join(tmp, 'out'), labels });

  it('a label absent from the one case: its name, the case, the labels present; no model opened', async () => {
    opened.length = 0;
    await assert.rejects(evaluate(one, [2, 99]), (e: unknown) => {
      assert.ok(e instanceof MedsamError, String(e));
      assert.equal(
        e.message,
        'label 99 is not in the reference of case abdomen (labels present: 2, 4) — ask for labels present, e.g. --labels 2,4, or --labels all',
      );
      return true;
    });
    assert.equal(opened.length, 0, 'no model was opened');
  });

  it('labels absent from every case of a folder are named with each case’s labels', async () => {
    opened.length = 0;
    await assert.rejects(
      evaluate(two, [7, 1, 9]),
      /^MedsamError: labels 7, 9 are not in any of the 2 cases' references \(labels present: a: 1, 2; b: 1\) — ask for labels present, e\.g\. --labels 1,2, or --labels all$/,
    );
    assert.equal(opened.length, 0);
  });

  it('a label present in one case of a folder (absent in another) goes on to the model', async () => {
    await assert.rejects(evaluate(two, [2]), ModelOpened, 'label 2 is in case a: the run starts (b is skipped then)');
    await assert.rejects(evaluate(two, 'all'), ModelOpened);
  });

  it('a manifest asking a case for a label its reference lacks names that case', async () => {
    const manifest = join(tmp, 'cases.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        cases: [
          { image: 'two/a.nrrd', label: 'two/a-label.nrrd', labels: [1, 2] },
          { image: 'two/b.nrrd', label: 'two/b-label.nrrd', labels: [1, 3] },
        ],
      }),
    );
    opened.length = 0;
    await assert.rejects(
      evaluate(manifest, 'all'),
      /^MedsamError: label 3 asked of case b by the manifest is not in its reference \(labels present: 1\) — list only labels present in its "labels", e\.g\. \[1\]$/,
    );
    assert.equal(opened.length, 0);
  });

  it('the CLI: one line, exit 2, no output folder, for absent labels and for values that are not integers >= 1', () => {
    const out = join(tmp, 'cli-out');
    assertUserError(
      runCli(['eval', one, '--labels', '2,99', '--out', out]),
      /label 99 is not in the reference of case abdomen \(labels present: 2, 4\)/,
      out,
    );
    assertUserError(runCli(['eval', one, '--label', '7', '--out', out]), /label 7 is not in the reference of case abdomen/, out);
    for (const bad of ['0', '1.5', '-2', 'x', '1,,2', ''])
      assertUserError(
        runCli(['eval', one, '--labels', bad, '--out', out]),
        /^medsam2: error: --labels '.*' is not 'all' or a list of positive integers/,
        out,
      );
    assert.equal(existsSync(out), false);
  });
});
