import { readNpzCase } from '../io/npzFile.js';
import { detectVolumeFormat, limitsFromEnv, readVolume, type ReadVolumeOptions } from '../io/readVolume.js';
import type { Image2D } from '../io/image2d.js';
import type { Volume } from '../io/volume.js';

/** An image with whatever reference data came in the same file (MedSAM2 .npz: `gts`, `recist`). */
export interface LoadedCase {
  image: Volume;
  label?: Volume;
  recist?: Volume;
  /** A colour picture case (.npz `imgs` of shape (H, W, 3)): its RGB pixels; `image` is their luminance. */
  rgb?: Image2D;
}

/** Reads an input for segmentation; for a MedSAM2 case .npz also its reference mask and RECIST lines. */
export async function loadCase(path: string, opts: ReadVolumeOptions = {}): Promise<LoadedCase> {
  if (detectVolumeFormat(path) === 'npz') {
    const c = await readNpzCase(path, { ...opts, ...limitsFromEnv(opts) });
    return { image: c.image, label: c.label, recist: c.recist, rgb: c.rgb };
  }
  return { image: await readVolume(path, opts) };
}
