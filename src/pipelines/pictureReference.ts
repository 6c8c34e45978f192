import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { hasNominalSpacing } from '../io/image2d.js';
import { readImage2D } from '../io/imageFile.js';
import type { Volume } from '../io/volume.js';

/**
 * Evaluation cases made of 2D pictures (endoscopy and ultrasound frames, X-ray exports): how a folder
 * pairs pictures with their masks, and how a mask picture becomes a reference. Hand-written: no
 * library knows datasets' naming schemes or tells a JPEG-compressed binary mask from a label map.
 */

export const PICTURE_EXT = /\.(png|jpe?g)$/i;

/** Folder pairs used by 2D datasets: Kvasir-SEG `images/` + `masks/`, others `imgs/` + `gts/`, `image/` + `label/`, … */
const IMAGE_DIRS = ['images', 'image', 'imgs', 'img'];
const MASK_DIRS = ['masks', 'mask', 'labels', 'label', 'gts', 'gt', 'ground_truth', 'groundtruth', 'annotations'];

export interface PicturePairs {
  cases: { name: string; image: string; label: string }[];
  skipped: { file: string; reason: string }[];
  /** The two folders used (names inside `dir`), so the folder scan does not list them as unpaired. */
  folders: string[];
}

/**
 * Pictures in `dir/images/` paired with masks in `dir/masks/` (any of the folder names above, any
 * case): `images/x.jpg` + `masks/x.jpg` or `masks/x.png` (Kvasir-SEG, CVC-ClinicDB exports), or a
 * mask named with a suffix, `masks/x_mask.png`, `x_segmentation.png` (ISIC), `x_seg`, `x_gt`, ….
 * Undefined when `dir` has no such pair of folders.
 */
export function findPictureFolderPairs(dir: string, labelSuffixes: readonly string[]): PicturePairs | undefined {
  const sub = readdirSync(dir).filter((f) => statSync(join(dir, f)).isDirectory());
  const imgDir = sub.find((f) => IMAGE_DIRS.includes(f.toLowerCase()));
  const maskDir = sub.find((f) => MASK_DIRS.includes(f.toLowerCase()));
  if (!imgDir || !maskDir) return undefined;
  const list = (d: string) =>
    readdirSync(join(dir, d))
      .filter((f) => !f.startsWith('.') && existsSync(join(dir, d, f)) && statSync(join(dir, d, f)).isFile())
      .sort();
  const stem = (f: string) => f.replace(PICTURE_EXT, '');
  const masks = new Map<string, string>();
  for (const f of list(maskDir)) if (PICTURE_EXT.test(f)) masks.set(stem(f), f);
  const used = new Set<string>();
  const cases: PicturePairs['cases'] = [];
  const skipped: PicturePairs['skipped'] = [];
  for (const f of list(imgDir)) {
    if (!PICTURE_EXT.test(f)) {
      skipped.push({ file: `${imgDir}/${f}`, reason: 'not a PNG or JPEG picture' });
      continue;
    }
    const s = stem(f);
    const mask = ['', ...labelSuffixes].map((x) => masks.get(s + x)).find((m) => m !== undefined && !used.has(m));
    if (!mask) {
      skipped.push({
        file: `${imgDir}/${f}`,
        reason: `no mask for it in ${maskDir}/ (expected ${maskDir}/${s}.png, ${s}.jpg or ${s}_mask.png)`,
      });
      continue;
    }
    used.add(mask);
    cases.push({ name: s, image: join(dir, imgDir, f), label: join(dir, maskDir, mask) });
  }
  for (const f of list(maskDir))
    if (!used.has(f))
      skipped.push({
        file: `${maskDir}/${f}`,
        reason: PICTURE_EXT.test(f) ? `a mask whose picture was not found in ${imgDir}/` : 'not a PNG or JPEG picture',
      });
  return { cases, skipped, folders: [imgDir, maskDir] };
}

/** A PNG label map's values: at most this many grey levels, each on at least MIN_LABEL_SHARE of the pixels. */
const MAX_EXACT_LABELS = 32;
const MIN_LABEL_SHARE = 0.0005;
/** A binary mask picture has (almost) all pixels near black or white; JPEG ringing stays within ~30 levels of them. */
const NEAR_EXTREME = 31;
const MIN_EXTREME_SHARE = 0.9;

/**
 * A mask picture (PNG or JPEG, grey or RGB — read as luminance) as a reference label map, decided
 * by its histogram:
 * - a PNG whose grey levels are few (≤ 32) and each covers ≥ 0.05 % of the pixels is a label map:
 *   one non-zero level is one object (label 1), several are labels kept as their values (0/1/2,
 *   0/128/255 palettes; `--labels 128` picks one);
 * - otherwise (any JPEG, a PNG with anti-aliased edges) it is a binary object: foreground = above
 *   mid-grey (> 127), so JPEG artefacts around 0 and 255 make no labels;
 * - unless fewer than 90 % of its pixels lie within 31 levels of black or white: then it is a photo,
 *   not a mask (a MedsamError naming the file).
 */
export function pictureMaskLabels(mask: Volume, path: string): Uint8Array {
  const n = mask.data.length;
  const hist = new Array<number>(256).fill(0);
  for (let i = 0; i < n; i++) hist[Math.min(255, Math.max(0, Math.round(Number(mask.data[i]))))]!++;
  const levels = hist.flatMap((c, v) => (c > 0 ? [v] : []));
  const out = new Uint8Array(n);
  const exact = mask.source.format === 'png' && levels.length <= MAX_EXACT_LABELS && levels.every((v) => hist[v]! >= MIN_LABEL_SHARE * n);
  if (exact) {
    const nonzero = levels.filter((v) => v !== 0);
    for (let i = 0; i < n; i++) {
      const v = Number(mask.data[i]);
      out[i] = nonzero.length === 1 ? (v !== 0 ? 1 : 0) : v;
    }
    return out;
  }
  let extreme = 0;
  for (let v = 0; v < 256; v++) if (v <= NEAR_EXTREME || v >= 255 - NEAR_EXTREME) extreme += hist[v]!;
  if (extreme < MIN_EXTREME_SHARE * n)
    throw new MedsamError(
      `the mask ${path} looks like a photo, not a mask (${levels.length} grey levels, only ${((100 * extreme) / n).toFixed(0)} % of its pixels near black or white)`,
      'give the mask picture (object white on black, or a PNG of exact label values), not the image',
    );
  for (let i = 0; i < n; i++) out[i] = Number(mask.data[i]) > 127 ? 1 : 0;
  return out;
}

/**
 * A colour picture's pixels (R G B interleaved, row-major: a one-slice volume's voxel order) for
 * drawing its preview in colour; undefined for a grey picture and anything that is not a PNG or
 * JPEG file. The model sees the picture's luminance (imageToVolume); a person knows a polyp by its colour.
 */
export function pictureColours(image: Volume): Uint8Array | undefined {
  if (!hasNominalSpacing(image)) return undefined;
  const img = readImage2D(image.source.path);
  return img.channels === 3 && img.width === image.dims[0] && img.height === image.dims[1] ? img.data : undefined;
}
