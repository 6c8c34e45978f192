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
  [255, 215, 0],
  [0, 200, 255],
  [255, 80, 80],
  [90, 230, 120],
  [200, 110, 255],
  [255, 150, 40],
  [40, 120, 255],
  [255, 105, 180],
  [160, 255, 60],
  [0, 230, 200],
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
  if (gray.length !== w * h)
    throw new MedsamError(`preview: slice has ${gray.length} pixels, expected ${w}x${h}`, 'this is a bug; please report it');
  if (labels && labels.length !== w * h)
    throw new MedsamError(
      `preview: mask slice has ${labels.length} pixels, expected ${w}x${h}`,
      'give a mask on the same grid as the image',
    );
  const s = Math.max(1, Math.floor(o.scale ?? Math.min(8, Math.max(1, Math.ceil(384 / Math.min(w, h))))));
  const W = w * s,
    H = h * s;
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
      const edge =
        lab !== 0 &&
        (x === 0 ||
          y === 0 ||
          x === w - 1 ||
          y === h - 1 ||
          Number(labels![i - 1]) !== lab ||
          Number(labels![i + 1]) !== lab ||
          Number(labels![i - w]) !== lab ||
          Number(labels![i + w]) !== lab);
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
    const X0 = b[0] * s,
      Y0 = b[1] * s,
      X1 = b[2] * s + s - 1,
      Y1 = b[3] * s + s - 1;
    for (let t = 0; t < thick; t++) {
      for (let X = X0; X <= X1; X++) {
        put(X, Y0 + t, BOX_COLOUR);
        put(X, Y1 - t, BOX_COLOUR);
      }
      for (let Y = Y0; Y <= Y1; Y++) {
        put(X0 + t, Y, BOX_COLOUR);
        put(X1 - t, Y, BOX_COLOUR);
      }
    }
  }
  for (const r of o.recists ?? []) {
    const [ax, ay, bx, by] = r.map((v) => v * s + (s - 1) / 2) as Box;
    const steps = Math.ceil(Math.hypot(bx - ax, by - ay)) + 1;
    for (let t = 0; t <= steps; t++) {
      const X = Math.round(ax + ((bx - ax) * t) / steps),
        Y = Math.round(ay + ((by - ay) * t) / steps);
      for (let dy = 0; dy < thick; dy++) for (let dx = 0; dx < thick; dx++) put(X + dx, Y + dy, RECIST_COLOUR);
    }
  }
  const radius = Math.max(5, 2 * s);
  for (const p of o.points ?? []) {
    const cx = Math.round(p.x * s + (s - 1) / 2),
      cy = Math.round(p.y * s + (s - 1) / 2);
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
    throw new MedsamError(
      `preview: mask dims ${mask.dims.join('x')} differ from image dims ${volume.dims.join('x')}`,
      'give the mask segmented from this image',
    );
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

/** Montage colours: prediction filled, reference outlined, slice numbers on a dark tag. */
export const MONTAGE_PREDICTION: Rgb = [255, 200, 0];
export const MONTAGE_REFERENCE: Rgb = [0, 255, 255];
export const MONTAGE_PREDICTION_ALPHA = 0.45;
const MONTAGE_BACKGROUND: Rgb = [40, 40, 40];
const MONTAGE_TEXT: Rgb = [255, 255, 255];

/** 3×5 pixel digits, rows top to bottom, 3 bits each (MSB = left). */
const DIGITS = [
  [7, 5, 5, 5, 7],
  [2, 6, 2, 2, 7],
  [7, 1, 7, 4, 7],
  [7, 1, 7, 1, 7],
  [5, 5, 7, 1, 1],
  [7, 4, 7, 1, 7],
  [7, 4, 7, 5, 7],
  [7, 1, 1, 1, 1],
  [7, 5, 7, 5, 7],
  [7, 5, 7, 1, 7],
];

export interface MontageOptions {
  axis?: SliceAxis;
  /** Prompts, drawn on their own slices (boxes and points). */
  prompts?: readonly VolumePrompt[];
  /** Longest side of one tile in pixels (default 192; reduced so the montage stays ≤ 4096 px wide). */
  tile?: number;
  /**
   * Show only the region around the object (the box of prediction ∪ reference ∪ prompts over all
   * shown slices, grown by half its size and at least 16 px per side). Default true: a 1 cm lesion
   * on a 512² slice would otherwise be a few pixels of a 192 px tile.
   */
  crop?: boolean;
  /**
   * The image in colour, R G B interleaved per voxel in image8's order (a colour picture): drawn
   * instead of image8's grey, overlays unchanged. The model saw the grey; this is for the eye.
   */
  rgb?: Uint8Array;
}

export interface MontageLayout {
  /** Slices shown, in order, and where each tile's top-left corner is. */
  tiles: { slice: number; x: number; y: number }[];
  tileWidth: number;
  tileHeight: number;
  /** Tile pixels per source pixel. */
  scale: number;
  /** The slice region shown in every tile, [x0, y0, x1, y1] inclusive. */
  region: [number, number, number, number];
}

/**
 * Every slice that holds prediction or reference, side by side: the image in gray (or its colours, `rgb`), the prediction
 * filled in MONTAGE_PREDICTION, the reference's contour in MONTAGE_REFERENCE, the slice number in
 * the tile's top-left corner, prompts on their slice. So a person sees at a glance where
 * propagation went past the object or stopped short. `pred`/`ref` are x-fastest binary volumes
 * (either may be omitted); with neither, the prompt slices are shown.
 */
export function renderMontageRgba(
  image8: Uint8Array,
  dims: readonly [number, number, number],
  pred: ArrayLike<number> | undefined,
  ref: ArrayLike<number> | undefined,
  opts: MontageOptions = {},
): { rgba: Uint8Array; width: number; height: number; layout: MontageLayout } {
  const axis = opts.axis ?? 2;
  const sh = sliceShape(dims, axis);
  const n = dims[0] * dims[1] * dims[2];
  for (const [what, m] of [
    ['prediction', pred],
    ['reference', ref],
  ] as const) {
    if (m && m.length !== n)
      throw new MedsamError(`montage: ${what} has ${m.length} voxels, image ${dims.join('x')} has ${n}`, 'give masks on the image grid');
  }
  if (opts.rgb && opts.rgb.length !== 3 * n)
    throw new MedsamError(
      `montage: colours have ${opts.rgb.length} values, image ${dims.join('x')} needs ${3 * n}`,
      'give 3 values per voxel',
    );
  // One plane per colour channel, so a tile's pixels come from extractSlice like the grey's.
  const planes = opts.rgb ? [0, 1, 2].map((c) => Uint8Array.from({ length: n }, (_, i) => opts.rgb![3 * i + c]!)) : undefined;
  const has = new Uint8Array(sh.count);
  const [nx, ny] = dims;
  for (const m of [pred, ref]) {
    if (!m) continue;
    for (let i = 0; i < n; i++) {
      if (!m[i]) continue;
      has[axis === 2 ? Math.floor(i / (nx * ny)) : axis === 1 ? Math.floor(i / nx) % ny : i % nx] = 1;
    }
  }
  let slices = [...has.keys()].filter((k) => has[k]);
  if (!slices.length) slices = [...new Set((opts.prompts ?? []).map((p) => p.slice))].sort((a, b) => a - b);
  if (!slices.length) slices = [Math.floor(sh.count / 2)];
  let region: [number, number, number, number] = [0, 0, sh.cols - 1, sh.rows - 1];
  if (opts.crop !== false) {
    let x0 = Infinity,
      y0 = Infinity,
      x1 = -1,
      y1 = -1;
    const grow = (x: number, y: number) => {
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    };
    for (const m of [pred, ref]) {
      if (!m) continue;
      for (let i = 0; i < n; i++) {
        if (!m[i]) continue;
        const x = i % nx,
          y = Math.floor(i / nx) % ny,
          z = Math.floor(i / (nx * ny));
        if (axis === 2) grow(x, y);
        else if (axis === 1) grow(x, z);
        else grow(y, z);
      }
    }
    for (const p of opts.prompts ?? []) {
      if (p.box) {
        grow(p.box[0], p.box[1]);
        grow(p.box[2], p.box[3]);
      }
      for (const q of p.points ?? []) grow(q.x, q.y);
    }
    if (x1 >= 0) {
      const mx = Math.max(16, Math.round((x1 - x0 + 1) / 2)),
        my = Math.max(16, Math.round((y1 - y0 + 1) / 2));
      region = [
        Math.max(0, Math.floor(x0 - mx)),
        Math.max(0, Math.floor(y0 - my)),
        Math.min(sh.cols - 1, Math.ceil(x1 + mx)),
        Math.min(sh.rows - 1, Math.ceil(y1 + my)),
      ];
    }
  }
  const rw = region[2] - region[0] + 1,
    rh = region[3] - region[1] + 1;
  const cols = Math.ceil(Math.sqrt(slices.length));
  const rows = Math.ceil(slices.length / cols);
  const gap = 2;
  let tile = opts.tile ?? 192;
  tile = Math.max(32, Math.min(tile, Math.floor((4096 - gap) / cols) - gap));
  const scale = tile / Math.max(rw, rh);
  const tw = Math.max(1, Math.round(rw * scale)),
    th = Math.max(1, Math.round(rh * scale));
  const W = gap + cols * (tw + gap),
    H = gap + rows * (th + gap);
  const rgba = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) rgba.set([...MONTAGE_BACKGROUND, 255], i * 4);
  const put = (X: number, Y: number, c: Rgb, a = 1) => {
    if (X < 0 || Y < 0 || X >= W || Y >= H) return;
    const k = (Y * W + X) * 4;
    for (let j = 0; j < 3; j++) rgba[k + j] = Math.round(rgba[k + j]! * (1 - a) + c[j]! * a);
  };
  const sx = (X: number) => region[0] + Math.min(rw - 1, Math.floor(((X + 0.5) * rw) / tw));
  const sy = (Y: number) => region[1] + Math.min(rh - 1, Math.floor(((Y + 0.5) * rh) / th));
  const layout: MontageLayout = { tiles: [], tileWidth: tw, tileHeight: th, scale, region };
  for (const [t, k] of slices.entries()) {
    const ox = gap + (t % cols) * (tw + gap),
      oy = gap + Math.floor(t / cols) * (th + gap);
    layout.tiles.push({ slice: k, x: ox, y: oy });
    const gray = extractSlice(image8, dims, axis, k);
    const colour = planes?.map((c) => extractSlice(c, dims, axis, k));
    const p = pred
      ? extractSlice(
          Uint8Array.from(pred, (v) => (v ? 1 : 0)),
          dims,
          axis,
          k,
        )
      : undefined;
    const r = ref
      ? extractSlice(
          Uint8Array.from(ref, (v) => (v ? 1 : 0)),
          dims,
          axis,
          k,
        )
      : undefined;
    const at = (m: Uint8Array, X: number, Y: number) => (X < 0 || Y < 0 || X >= tw || Y >= th ? 0 : m[sy(Y) * sh.cols + sx(X)]!);
    for (let Y = 0; Y < th; Y++) {
      for (let X = 0; X < tw; X++) {
        const i = sy(Y) * sh.cols + sx(X);
        const g = gray[i]!;
        put(ox + X, oy + Y, colour ? [colour[0]![i]!, colour[1]![i]!, colour[2]![i]!] : [g, g, g]);
        if (p?.[i]) put(ox + X, oy + Y, MONTAGE_PREDICTION, MONTAGE_PREDICTION_ALPHA);
        // Reference contour in tile space: a reference pixel with a 4-neighbour outside it (or the tile edge).
        if (r?.[i] && (!at(r, X - 1, Y) || !at(r, X + 1, Y) || !at(r, X, Y - 1) || !at(r, X, Y + 1)))
          put(ox + X, oy + Y, MONTAGE_REFERENCE);
      }
    }
    for (const pr of (opts.prompts ?? []).filter((q) => q.slice === k)) {
      const toX = (x: number) => Math.round((x - region[0] + 0.5) * scale - 0.5),
        toY = (y: number) => Math.round((y - region[1] + 0.5) * scale - 0.5);
      if (pr.box) {
        const [x0, y0, x1, y1] = [toX(pr.box[0]), toY(pr.box[1]), toX(pr.box[2]), toY(pr.box[3])];
        const inTile = (X: number, Y: number, c: Rgb) => {
          if (X >= 0 && Y >= 0 && X < tw && Y < th) put(ox + X, oy + Y, c);
        };
        for (let X = x0; X <= x1; X++) {
          inTile(X, y0, BOX_COLOUR);
          inTile(X, y1, BOX_COLOUR);
        }
        for (let Y = y0; Y <= y1; Y++) {
          inTile(x0, Y, BOX_COLOUR);
          inTile(x1, Y, BOX_COLOUR);
        }
      }
      for (const q of pr.points ?? []) {
        const cx = toX(q.x),
          cy = toY(q.y);
        for (let dy = -2; dy <= 2; dy++)
          for (let dx = -2; dx <= 2; dx++) {
            if (cx + dx >= 0 && cy + dy >= 0 && cx + dx < tw && cy + dy < th)
              put(ox + cx + dx, oy + cy + dy, q.label === 1 ? POSITIVE_COLOUR : NEGATIVE_COLOUR);
          }
      }
    }
    // The slice number, 2× digits on a dark tag in the corner.
    const text = String(k),
      s = 2;
    const tagW = text.length * 4 * s + s,
      tagH = 7 * s;
    for (let Y = 0; Y < tagH; Y++) for (let X = 0; X < tagW; X++) put(ox + X, oy + Y, [0, 0, 0], 0.7);
    for (const [j, ch] of [...text].entries()) {
      const glyph = DIGITS[Number(ch)]!;
      for (let gy = 0; gy < 5; gy++)
        for (let gx = 0; gx < 3; gx++) {
          if (!((glyph[gy]! >> (2 - gx)) & 1)) continue;
          for (let dy = 0; dy < s; dy++)
            for (let dx = 0; dx < s; dx++) put(ox + s + (j * 4 + gx) * s + dx, oy + s + gy * s + dy, MONTAGE_TEXT);
        }
    }
  }
  return { rgba, width: W, height: H, layout };
}

export function renderMontagePng(
  image8: Uint8Array,
  dims: readonly [number, number, number],
  pred: ArrayLike<number> | undefined,
  ref: ArrayLike<number> | undefined,
  opts: MontageOptions = {},
): Uint8Array {
  const { rgba, width, height } = renderMontageRgba(image8, dims, pred, ref, opts);
  return encodePng(rgba, width, height);
}

/** Writes the montage PNG atomically. */
export function writeMontage(
  path: string,
  image8: Uint8Array,
  dims: readonly [number, number, number],
  pred: ArrayLike<number> | undefined,
  ref: ArrayLike<number> | undefined,
  opts: MontageOptions = {},
): void {
  writeFileAtomic(path, renderMontagePng(image8, dims, pred, ref, opts));
}
