import { readVolume } from '../../src/io/readVolume.js';
import type { Volume } from '../../src/io/volume.js';

/** The shared 6.5 mm glioma MRI and its reference (../shared/data/mr-brain), relative to the repo root. */
export const GLIOMA = '../shared/data/mr-brain/brain1_image.nrrd';
export const GLIOMA_LABEL = '../shared/data/mr-brain/brain1_label.nrrd';

/**
 * The coronal plane (fixed row y) holding the most reference tumour, and the tumour's tight box
 * there as plane pixels (x = column, z = row): what the thick-slice tests prompt with.
 */
export function busiestCoronalBox(label: Pick<Volume, 'dims' | 'data'>): {
  y: number;
  voxels: number;
  box: [number, number, number, number];
} {
  const [W, H, D] = label.dims;
  const tumour = label.data as ArrayLike<number>;
  let y = 0,
    voxels = 0;
  for (let yy = 0; yy < H; yy++) {
    let n = 0;
    for (let z = 0; z < D; z++) for (let x = 0; x < W; x++) if (tumour[x + W * (yy + H * z)]) n++;
    if (n > voxels) [voxels, y] = [n, yy];
  }
  let [x0, x1, z0, z1] = [W, -1, D, -1];
  for (let z = 0; z < D; z++)
    for (let x = 0; x < W; x++)
      if (tumour[x + W * (y + H * z)]) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        z0 = Math.min(z0, z);
        z1 = Math.max(z1, z);
      }
  return { y, voxels, box: [x0, z0, x1, z1] };
}

/**
 * The glioma's reference read from `path` (absolute), its voxels, and its busiest coronal plane
 * and box (above), the box's corners also by name.
 */
export async function gliomaCoronal(
  path: string,
): Promise<
  ReturnType<typeof busiestCoronalBox> & { label: Volume; tumour: ArrayLike<number>; x0: number; z0: number; x1: number; z1: number }
> {
  const label = await readVolume(path);
  const b = busiestCoronalBox(label);
  const [x0, z0, x1, z1] = b.box;
  return { label, tumour: label.data as ArrayLike<number>, ...b, x0, z0, x1, z1 };
}
