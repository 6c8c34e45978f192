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
import { evaluateFolder } from '../../src/pipelines/evaluate.js';
import { assertUserError, runCli } from '../helpers/cli.js';
import { ModelOpened, stubModelOpen, writeNrrdCase } from '../helpers/evalCases.js';

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-eval-labels-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('eval --labels is checked before any model work', () => {
  const one = join(tmp, 'one');
  const two = join(tmp, 'two');
  const model = stubModelOpen();
  before(() => {
    mkdirSync(one);
    writeNrrdCase(one, 'abdomen', [2, 4]);
    mkdirSync(two);
    writeNrrdCase(two, 'a', [1, 2]);
    writeNrrdCase(two, 'b', [1]);
  });

  const evaluate = (dir: string, labels: 'all' | number[]) => evaluateFolder(dir, { outDir: join(tmp, 'out'), labels });

  it('a label absent from the one case: its name, the case, the labels present; no model opened', async () => {
    const opens = model.opens;
    await assert.rejects(evaluate(one, [2, 99]), (e: unknown) => {
      assert.ok(e instanceof MedsamError, String(e));
      assert.equal(
        e.message,
        'label 99 is not in the reference of case abdomen (labels present: 2, 4) — ask for labels present, e.g. --labels 2,4, or --labels all',
      );
      return true;
    });
    assert.equal(model.opens, opens, 'no model was opened');
  });

  it('labels absent from every case of a folder are named with each case’s labels', async () => {
    const opens = model.opens;
    await assert.rejects(
      evaluate(two, [7, 1, 9]),
      /^MedsamError: labels 7, 9 are not in any of the 2 cases' references \(labels present: a: 1, 2; b: 1\) — ask for labels present, e\.g\. --labels 1,2, or --labels all$/,
    );
    assert.equal(model.opens, opens);
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
    const opens = model.opens;
    await assert.rejects(
      evaluate(manifest, 'all'),
      /^MedsamError: label 3 asked of case b by the manifest is not in its reference \(labels present: 1\) — list only labels present in its "labels", e\.g\. \[1\]$/,
    );
    assert.equal(model.opens, opens);
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
