import { PNG } from 'pngjs';
import { MedsamError } from '../common/errors.js';
import { writeFileAtomic } from '../io/atomicWrite.js';
import type { Volume } from '../io/volume.js';
import { toUint8, type WindowSpec } from '../preprocess/intensity.js';
import { extractSlice, sliceShape, type SliceAxis } from '../preprocess/slices.js';
import type { Box, PointPrompt, VolumePrompt } from '../predictor/prompts.js';

/**
 * A quick-look PNG of one slice: the gray image, each label filled semi-transparently with a
 * solid contour, and the prompts drawn on top. Pixels are shown in voxel order (row = slice row,
 * column = slice column, no radiological flip) so that drawn prompts match the coordinates given.
 */

type Rgb = readonly [number, number, number];

/** Distinct colours for labels 1, 2, …, cycled. */
const LABEL_COLOURS: readonly Rgb[] = [
  [255, 215, 0], [0, 200, 255], [255, 80, 80], [90, 230, 120], [200, 110, 255],
  [255, 150, 40], [40, 120, 255], [255, 105, 180], [160, 255, 60], [0, 230, 200],
];
const BOX_COLOUR: Rgb = [30, 144, 255];
const RECIST_COLOUR: Rgb = [255, 0, 255];
const POSITIVE_COLOUR: Rgb = [0, 255, 0];
const NEGATIVE_COLOUR: Rgb = [255, 0, 0];
const FILL_ALPHA = 0.4;

export function labelColour(label: number): Rgb {
  return LABEL_COLOURS[(label - 1) % LABEL_COLOURS.length]!;
}

export interface SliceOverlay {
  /** Row-major gray slice, width × height. */
  gray: Uint8Array;
  width: number;
  height: number;
  /** Row-major label slice of the same size (0 = background). */
  labels?: ArrayLike<number>;
  boxes?: Box[];
  recists?: Box[];
  points?: PointPrompt[];
  /** Integer upscaling (nearest) so small slices stay readable; default: enough for a 384 px short side, max 8. */
  scale?: number;
}

/** Renders the overlay to RGBA. */
export function renderOverlayRgba(o: SliceOverlay): { rgba: Uint8Array; width: number; height: number } {
  const { gray, width: w, height: h, labels } = o;
  if (gray.length !== w * h) throw new MedsamError(`preview: slice has ${gray.length} pixels, expected ${w}x${h}`, 'this is a bug; please report it');
  if (labels && labels.length !== w * h) throw new MedsamError(`preview: mask slice has ${labels.length} pixels, expected ${w}x${h}`, 'give a mask on the same grid as the image');
  const s = Math.max(1, Math.floor(o.scale ?? Math.min(8, Math.max(1, Math.ceil(384 / Math.min(w, h))))));
  const W = w * s, H = h * s;
  const rgba = new Uint8Array(W * H * 4);
  const put = (X: number, Y: number, c: Rgb, a = 1) => {
    if (X < 0 || Y < 0 || X >= W || Y >= H) return;
    const k = (Y * W + X) * 4;
    rgba[k] = Math.round(rgba[k]! * (1 - a) + c[0] * a);
    rgba[k + 1] = Math.round(rgba[k + 1]! * (1 - a) + c[1] * a);
    rgba[k + 2] = Math.round(rgba[k + 2]! * (1 - a) + c[2] * a);
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const g = gray[i]!;
      const lab = labels ? Number(labels[i]) : 0;
      // A contour pixel is a labelled pixel with a 4-neighbour of another label (or the image edge).
      const edge = lab !== 0 && (x === 0 || y === 0 || x === w - 1 || y === h - 1 ||
        Number(labels![i - 1]) !== lab || Number(labels![i + 1]) !== lab || Number(labels![i - w]) !== lab || Number(labels![i + w]) !== lab);
      for (let dy = 0; dy < s; dy++) {
        for (let dx = 0; dx < s; dx++) {
          const k = ((y * s + dy) * W + x * s + dx) * 4;
          rgba[k] = rgba[k + 1] = rgba[k + 2] = g;
          rgba[k + 3] = 255;
        }
      }
      if (lab !== 0) {
        const c = labelColour(lab);
        for (let dy = 0; dy < s; dy++) for (let dx = 0; dx < s; dx++) put(x * s + dx, y * s + dy, c, edge ? 1 : FILL_ALPHA);
      }
    }
  }
  const thick = Math.max(2, Math.round(s / 2));
  for (const b of o.boxes ?? []) {
    const X0 = b[0] * s, Y0 = b[1] * s, X1 = b[2] * s + s - 1, Y1 = b[3] * s + s - 1;
    for (let t = 0; t < thick; t++) {
      for (let X = X0; X <= X1; X++) { put(X, Y0 + t, BOX_COLOUR); put(X, Y1 - t, BOX_COLOUR); }
      for (let Y = Y0; Y <= Y1; Y++) { put(X0 + t, Y, BOX_COLOUR); put(X1 - t, Y, BOX_COLOUR); }
    }
  }
  for (const r of o.recists ?? []) {
    const [ax, ay, bx, by] = r.map((v) => v * s + (s - 1) / 2) as Box;
    const steps = Math.ceil(Math.hypot(bx - ax, by - ay)) + 1;
    for (let t = 0; t <= steps; t++) {
      const X = Math.round(ax + ((bx - ax) * t) / steps), Y = Math.round(ay + ((by - ay) * t) / steps);
      for (let dy = 0; dy < thick; dy++) for (let dx = 0; dx < thick; dx++) put(X + dx, Y + dy, RECIST_COLOUR);
    }
  }
  const radius = Math.max(5, 2 * s);
  for (const p of o.points ?? []) {
    const cx = Math.round(p.x * s + (s - 1) / 2), cy = Math.round(p.y * s + (s - 1) / 2);
    const c = p.label === 1 ? POSITIVE_COLOUR : NEGATIVE_COLOUR;
    for (let dy = -radius - 1; dy <= radius + 1; dy++) {
      for (let dx = -radius - 1; dx <= radius + 1; dx++) {
        const r = Math.hypot(dx, dy);
        if (r <= radius - 1) put(cx + dx, cy + dy, c);
        else if (r <= radius + 0.5) put(cx + dx, cy + dy, [255, 255, 255]); // white ring: visible on any background
      }
    }
  }
  return { rgba, width: W, height: H };
}

export function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}

export interface PreviewOptions {
  /** Slice index along `axis`. */
  slice: number;
  axis?: SliceAxis;
  /** Prompts to draw; only those on `slice` are drawn. */
  prompts?: readonly VolumePrompt[];
  /** The uint8 image the model saw (x-fastest, same dims); computed with `window` when absent. */
  image8?: Uint8Array;
  window?: WindowSpec | 'auto';
  scale?: number;
}

/** PNG bytes of one slice of `volume` with `mask` (same grid, label map) and prompts overlaid. */
export function renderPreviewPng(volume: Volume, mask: Pick<Volume, 'data' | 'dims'> | undefined, opts: PreviewOptions): Uint8Array {
  const axis = opts.axis ?? 2;
  const sh = sliceShape(volume.dims, axis);
  if (mask && mask.dims.some((d, i) => d !== volume.dims[i])) {
    throw new MedsamError(`preview: mask dims ${mask.dims.join('x')} differ from image dims ${volume.dims.join('x')}`, 'give the mask segmented from this image');
  }
  const image8 = opts.image8 ?? toUint8(volume, { window: opts.window });
  const gray = extractSlice(image8, volume.dims, axis, opts.slice);
  const labels = mask ? extractSlice(mask.data, mask.dims, axis, opts.slice) : undefined;
  const onSlice = (opts.prompts ?? []).filter((p) => p.slice === opts.slice);
  const { rgba, width, height } = renderOverlayRgba({
    gray,
    width: sh.cols,
    height: sh.rows,
    labels: labels as ArrayLike<number> | undefined,
    boxes: onSlice.flatMap((p) => (p.box ? [p.box] : [])),
    recists: onSlice.flatMap((p) => (p.recist ? [p.recist] : [])),
    points: onSlice.flatMap((p) => p.points ?? []),
    scale: opts.scale,
  });
  return encodePng(rgba, width, height);
}

/** Writes the preview PNG atomically. */
export function writePreview(path: string, volume: Volume, mask: Pick<Volume, 'data' | 'dims'> | undefined, opts: PreviewOptions): void {
  writeFileAtomic(path, renderPreviewPng(volume, mask, opts));
}
