import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { imageToVolume } from '../../src/io/image2d.js';
import { readImage2D } from '../../src/io/imageFile.js';
import { encodeNiftiImage } from '../../src/io/niftiWrite.js';
import { readVolume } from '../../src/io/readVolume.js';
import { dice } from '../../src/metrics/dice.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { assertUserError, ROOT, runCli } from '../helpers/cli.js';

/**
 * The CLI on one 2D picture (a Kvasir colonoscopy JPEG): `segment` needs no --slice and reports the
 * area in pixels — no mL and no slice count, which a photo's nominal 1 mm spacing would make up —
 * and `info` shows pixels, not a spacing, extent or patient orientation. The same picture as a
 * one-slice NIfTI with a real 0.5 mm spacing reports its area in mm² too. Both runs keep the picture's
 * embedding in a MEDSAM2_EMBEDDING_CACHE folder of this file: the first writes it, the second (the same
 * pixels) reads it and gives the same mask; a cache path that is a file is refused in one line.
 */
const KVASIR = join(ROOT, '../shared/data/endoscopy/kvasir');
const NAME = 'cju0qkwl35piu0993l0dewei2.jpg';
const IMAGE = join(KVASIR, 'images', NAME);
const MASK = join(KVASIR, 'masks', NAME);
const skip = !existsSync(IMAGE) && `../shared/data/endoscopy/kvasir is absent (${IMAGE})`;

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-picture-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const emb = join(tmp, 'emb');
const withCache = { ...process.env, MEDSAM2_EMBEDDING_CACHE: emb };
/** The JPEG run's area, for the NIfTI run (the same pixels from the cache). */
let jpegPx: number | undefined;

/** The polyp's reference mask (JPEG: > 127) and its box. */
function reference() {
  const m = readImage2D(MASK);
  const ref = Uint8Array.from({ length: m.width * m.height }, (_, i) => (m.data[i * m.channels]! > 127 ? 1 : 0));
  const p = promptFromReference('key-box', { reference: ref, dims: [m.width, m.height, 1] });
  return { ref, box: p.box!.join(',') };
}

function nonzero(a: ArrayLike<number | bigint>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (Number(a[i]) !== 0) n++;
  return n;
}

describe('medsam2 on a single picture', { skip }, () => {
  test('info: pixels, no spacing or orientation', () => {
    const r = runCli(['info', IMAGE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dimensions: +622 x 529 pixels \(2D picture\)$/m);
    assert.match(r.stdout, /^spacing: +none in the file/m);
    assert.doesNotMatch(r.stdout, /voxels|extent|origin|orientation| mm\b/);
  });

  test('segment a JPEG: "N px" without --slice, N = the written mask, DSC vs the reference', async () => {
    const { ref, box } = reference();
    const out = join(tmp, 'polyp.png');
    const r = runCli(['segment', IMAGE, '--box', box, '-o', out, '--quiet'], withCache);
    assert.equal(r.code, 0, r.stderr);
    const m = /^segmented (\d+) px in [\d.]+ s -> .*polyp\.png\n$/.exec(r.stdout);
    assert.ok(m, `stdout: ${r.stdout}`);
    const kept = readdirSync(emb);
    assert.equal(kept.length, 1, `one embedding kept: ${kept.join(', ')}`);
    assert.match(kept[0]!, /\.emb$/);
    jpegPx = Number(m[1]);
    const mask = await readVolume(out);
    assert.equal(Number(m[1]), nonzero(mask.data), 'the reported area is the mask written');
    const d = dice(
      Uint8Array.from(mask.data as ArrayLike<number>, (v) => (v ? 1 : 0)),
      ref,
    );
    assert.ok(d >= 0.8, `DSC ${d.toFixed(3)} vs the Kvasir mask`);
  });

  test('segment the picture as a one-slice NIfTI with 0.5 mm pixels: px and mm²', () => {
    const v = imageToVolume(readImage2D(IMAGE));
    const nii = join(tmp, 'polyp_0.5mm.nii.gz');
    writeFileSync(nii, encodeNiftiImage({ ...v, spacing: [0.5, 0.5, 1], source: { format: 'nifti', path: nii } }, 'test picture'));
    const kept = readdirSync(emb);
    const r = runCli(['segment', nii, '--box', reference().box, '-o', join(tmp, 'polyp.nii.gz'), '--quiet'], withCache);
    assert.equal(r.code, 0, r.stderr);
    const m = /^segmented (\d+) px \(([\d.]+) mm²\) in [\d.]+ s -> /.exec(r.stdout);
    assert.ok(m, `stdout: ${r.stdout}`);
    assert.deepEqual(readdirSync(emb), kept, 'the same pixels: the kept embedding is read, none added');
    if (jpegPx !== undefined) assert.equal(Number(m[1]), jpegPx, 'the same mask as the JPEG run');
    assert.ok(Math.abs(Number(m[2]) - Number(m[1]) * 0.25) <= Math.max(1, Number(m[1]) * 0.25 * 0.005), `${m[2]} mm² = ${m[1]} px × 0.25`);
  });

  test('MEDSAM2_EMBEDDING_CACHE naming a file: one line, exit 2, no output', () => {
    const out = join(tmp, 'refused.png');
    const r = runCli(['segment', IMAGE, '--box', '10,10,40,40', '-o', out], { ...process.env, MEDSAM2_EMBEDDING_CACHE: MASK });
    assertUserError(r, /MEDSAM2_EMBEDDING_CACHE .* is a file, not a folder/, out);
  });
});
