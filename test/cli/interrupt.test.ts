/**
 * Ctrl-C during `medsam2 segment`, `medsam2 video` and `medsam2 eval` on real data: SIGINT is sent
 * once the command has said what it will run (the model is about to run; for eval, once its first
 * case is scored), and the command stops between slices (frames, cases) with exit 130 and one line,
 * leaving its output folder exactly as it was (no mask, no preview, no report, no hidden temp file,
 * no half-moved video outputs).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { assertInterrupted, interruptedCli } from '../helpers/interruptedCli.js';
import { KVASIR_SKIP, maskBox, polypClipMp4 } from '../pipelines/syntheticVideo.js';
import { SHARED_SKIP, croppedLesion } from '../server/harness.js';

const SKIP = SHARED_SKIP || KVASIR_SKIP;
if (SKIP) process.stdout.write(`# skipping the CLI Ctrl-C test: ${SKIP}\n`);

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'medsam2-interrupt-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const interrupted = (args: string[], ready: RegExp, env: Record<string, string> = {}) => interruptedCli(args, ready, { env });

describe('Ctrl-C during a long command', { skip: SKIP }, () => {
  it('segment: exit 130, one line, no mask, no preview, no temp file', { timeout: 180_000 }, async () => {
    const crop = await croppedLesion(dir, 6);
    const c = await readNpzCase(crop.path);
    const box = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims }).box!;
    const out = join(dir, 'seg-out');
    mkdirSync(out);
    const r = await interrupted(
      [
        'segment',
        crop.path,
        '--slice',
        String(crop.key),
        '--box',
        box.join(','),
        '-o',
        join(out, 'm.nii.gz'),
        '--preview',
        join(out, 'm.png'),
      ],
      /^intensity: /m,
    );
    assertInterrupted(r, out, []);
  });

  it('video: exit 130, one line, an existing output folder keeps exactly its files', { timeout: 180_000 }, async () => {
    const { clip, mp4 } = await polypClipMp4(dir, 11);
    const out = join(dir, 'video-out');
    mkdirSync(out);
    mkdirSync(join(out, 'mine'));
    const r = await interrupted(
      ['video', mp4, '--frame', '0', '--box', maskBox(clip.masks[0]!, clip.width).join(','), '-o', out],
      /^video: /m,
    );
    assertInterrupted(r, out, ['mine']);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('.')),
      [],
      'no hidden staging folder beside it',
    );
  });

  it('eval: stops between cases, exit 130, one line, no report, no preview, no mask, no staged file', { timeout: 180_000 }, async () => {
    const cases = join(dir, 'eval-cases');
    mkdirSync(cases);
    const crop = await croppedLesion(cases, 1);
    copyFileSync(crop.path, join(cases, 'second.npz'));
    const out = join(dir, 'eval-out');
    const tmp = join(dir, 'eval-tmp');
    mkdirSync(out);
    mkdirSync(tmp);
    const r = await interrupted(
      ['eval', cases, '--out', join(out, 'report'), '--previews', join(out, 'png'), '--save-masks'],
      /^\[1\/2\] .*DSC/m,
      { TMPDIR: tmp },
    );
    assertInterrupted(r, out, []);
    assert.doesNotMatch(r.stderr, /^\[2\/2\] .*DSC/m, 'the second case was not run');
    assert.deepEqual(
      readdirSync(tmp).filter((n) => n.startsWith('medsam2-')),
      [],
      'the staged masks and previews are gone',
    );
  });
});
