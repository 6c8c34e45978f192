import { hasNominalSpacing } from '../io/image2d.js';
import type { Volume } from '../io/volume.js';

/**
 * How the CLI words the size of a mask: a volume's in voxels and mL, a single picture's (one slice)
 * in pixels, as the web app does, with its area in mm² only when the file gives a real pixel
 * spacing. A PNG or JPEG has none: imageToVolume's 1 mm is nominal, so mL or mm² from it would be
 * made up (a Kvasir photo is not 88 mL).
 */

/** One slice: a photo, a video frame, a 2D DICOM or NIfTI. */
export function isPicture(v: Pick<Volume, 'dims'>): boolean {
  return v.dims[2] === 1;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(2);
}

/** "N voxels (x mL)" for a volume; "N px" (+ " (x mm²)" with a real spacing) for a picture. */
export function maskSize(count: number, v: Pick<Volume, 'dims' | 'spacing' | 'source'>): string {
  const [sx, sy, sz] = v.spacing;
  if (!isPicture(v)) return `${count} voxels (${fmt((count * sx * sy * sz) / 1000)} mL)`;
  return hasNominalSpacing(v) ? `${count} px` : `${count} px (${fmt(count * sx * sy)} mm²)`;
}
