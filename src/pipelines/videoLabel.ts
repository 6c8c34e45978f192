import { labelColour } from './preview.js';

/**
 * Object names drawn into an overlay frame (overlay.mp4 of a video session): each object's name, in
 * its colour on a dark box, just above its mask's bounding box on that frame (inside it when there is
 * no room above), so a reviewer sees which coloured region is which. The glyphs are a coverage mask
 * made outside the core (io/textLabel.ts); here they are only placed and blended.
 */

/** A rendered name: coverage 0..255, row-major (io/textLabel.ts TextMask). */
export interface LabelGlyphs {
  width: number;
  height: number;
  alpha: Uint8Array;
}

const PAD = 2;
const BOX_ALPHA = 0.6;

/** Bounding boxes [x0, y0, x1, y1] of the labels present in one frame's label map. */
function labelBoxes(labels: ArrayLike<number>, width: number, height: number): Map<number, [number, number, number, number]> {
  const boxes = new Map<number, [number, number, number, number]>();
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const lab = Number(labels[y * width + x]);
      if (!lab) continue;
      const b = boxes.get(lab);
      if (!b) boxes.set(lab, [x, y, x, y]);
      else {
        if (x < b[0]) b[0] = x;
        if (x > b[2]) b[2] = x;
        if (y > b[3]) b[3] = y;
      }
    }
  return boxes;
}

/** Draw, in place on `rgb` (interleaved, width*height*3), the name of every object present in the frame. */
export function drawObjectLabels(
  rgb: Uint8Array,
  labels: ArrayLike<number>,
  width: number,
  height: number,
  names: ReadonlyMap<number, LabelGlyphs>,
): Uint8Array {
  if (names.size === 0) return rgb;
  for (const [lab, [bx0, by0]] of labelBoxes(labels, width, height)) {
    const g = names.get(lab);
    if (!g) continue;
    const boxW = g.width + 2 * PAD;
    const boxH = g.height + 2 * PAD;
    if (boxW > width || boxH > height) continue;
    const x0 = Math.min(bx0, width - boxW);
    const y0 = by0 - boxH - 1 >= 0 ? by0 - boxH - 1 : Math.min(by0 + 1, height - boxH);
    const c = labelColour(lab);
    for (let y = 0; y < boxH; y++)
      for (let x = 0; x < boxW; x++) {
        const i = 3 * ((y0 + y) * width + (x0 + x));
        const gx = x - PAD;
        const gy = y - PAD;
        const a = gx >= 0 && gy >= 0 && gx < g.width && gy < g.height ? g.alpha[gy * g.width + gx]! / 255 : 0;
        for (let k = 0; k < 3; k++) {
          const dark = rgb[i + k]! * (1 - BOX_ALPHA);
          rgb[i + k] = Math.round(dark * (1 - a) + c[k]! * a);
        }
      }
  }
  return rgb;
}
