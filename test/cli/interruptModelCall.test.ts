/**
 * Ctrl-C in `medsam2 segment` / `video` / `eval` stops at the next model call, not at the end of the
 * slice (frame): SIGINT is sent while the first model call (the key slice's encode) runs, and the
 * command must start no further ONNX Runtime run — before the fix the prompt's decodes (box
 * proposals, refinements) still ran — then exit 130 with one line and write nothing. Model calls
 * are counted (test/cli/ortRunCounter.ts), never timed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { ROOT } from '../helpers/cli.js';
import { type Interrupted, assertInterrupted, interruptedCli } from '../helpers/interruptedCli.js';
import { KVASIR_SKIP, maskBox, polypClipMp4 } from '../pipelines/syntheticVideo.js';
import { SHARED_SKIP, croppedLesion } from '../server/harness.js';

const SKIP = SHARED_SKIP || KVASIR_SKIP;
if (SKIP) process.stdout.write(`# skipping the CLI Ctrl-C-between-model-calls test: ${SKIP}\n`);

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'medsam2-interrupt-call-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI with the run counter and sends SIGINT as the first model call starts. */
const interruptedInFirstCall = (args: string[]) =>
  interruptedCli(args, /^ort-run 1 /m, { imports: [join(ROOT, 'test/cli/ortRunCounter.ts')] });

/** Only the first model call (the encoder's: input 'input'; the decoder's are image_embeddings, …) ever started. */
function assertStoppedAtFirstCall(r: Interrupted, out: string, before: string[]): void {
  const runs = [...r.stderr.matchAll(/^ort-run \d+ (.*)$/gm)].map((m) => m[1]!);
  assert.ok(runs.length > 0, `no model call started: ${r.stderr}`);
  assert.equal(runs[0], 'input', `the first model call is the encoder's:\n${r.stderr}`);
  assert.deepEqual(runs, [runs[0]], `no model call starts after Ctrl-C:\n${r.stderr}`);
  assertInterrupted(r, out, before);
}

describe('Ctrl-C during a model call', { skip: SKIP }, () => {
  it('segment: Ctrl-C in the key slice encode starts no decode, exit 130, nothing written', { timeout: 120_000 }, async () => {
    const crop = await croppedLesion(dir, 6);
    const c = await readNpzCase(crop.path);
    const box = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims }).box!;
    const out = join(dir, 'seg-out');
    mkdirSync(out);
    const r = await interruptedInFirstCall([
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
    ]);
    assertStoppedAtFirstCall(r, out, []);
  });

  it('video: Ctrl-C in frame 0 encode starts no decode, exit 130, the output folder keeps its files', { timeout: 120_000 }, async () => {
    const { clip, mp4 } = await polypClipMp4(dir, 6);
    const out = join(dir, 'video-out');
    mkdirSync(out);
    mkdirSync(join(out, 'mine'));
    const r = await interruptedInFirstCall([
      'video',
      mp4,
      '--frame',
      '0',
      '--box',
      maskBox(clip.masks[0]!, clip.width).join(','),
      '-o',
      out,
    ]);
    assertStoppedAtFirstCall(r, out, ['mine']);
  });

  it('eval: Ctrl-C in the first case encode starts no decode, exit 130, no report', { timeout: 120_000 }, async () => {
    const crop = await croppedLesion(dir, 6);
    const cases = join(dir, 'eval-cases');
    mkdirSync(cases);
    symlinkSync(crop.path, join(cases, 'lesion.npz'));
    const out = join(dir, 'eval-out');
    mkdirSync(out);
    const r = await interruptedInFirstCall(['eval', cases, '--out', out, '--quiet']);
    assertStoppedAtFirstCall(r, out, []);
  });
});
