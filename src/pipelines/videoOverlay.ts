import { MedsamError } from '../common/errors.js';
import { labelColour } from './preview.js';

/** Fill opacity of the masks; contours are drawn opaque (the same look as preview PNGs). */
const FILL_ALPHA = 0.4;

/**
 * One RGB frame (interleaved, row-major) with each label filled semi-transparently in its colour
 * and outlined: a contour pixel is a labelled pixel with a 4-neighbour of another label or the
 * frame edge.
 */
export function overlayFrame(rgb: Uint8Array, labels: ArrayLike<number>, width: number, height: number): Uint8Array {
  const n = width * height;
  if (rgb.length !== n * 3 || labels.length !== n) {
    throw new MedsamError(
      `overlay: frame has ${rgb.length / 3} pixels and mask ${labels.length}, expected ${width}x${height}`,
      'this is a bug; please report it',
    );
  }
  const out = rgb.slice();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const lab = Number(labels[i]);
      if (lab === 0) continue;
      const edge =
        x === 0 ||
        y === 0 ||
        x === width - 1 ||
        y === height - 1 ||
        Number(labels[i - 1]) !== lab ||
        Number(labels[i + 1]) !== lab ||
        Number(labels[i - width]) !== lab ||
        Number(labels[i + width]) !== lab;
      const c = labelColour(lab);
      const a = edge ? 1 : FILL_ALPHA;
      for (let k = 0; k < 3; k++) out[3 * i + k] = Math.round(out[3 * i + k]! * (1 - a) + c[k]! * a);
    }
  }
  return out;
}
