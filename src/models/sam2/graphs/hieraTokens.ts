import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';

/**
 * Token order of a Hiera feature map held as a [tokens, C] matrix. LayerNorm, Linear, MLP and the
 * residual adds are per token, so their result does not depend on the order; only attention windows,
 * q-pooling and the stage outputs do. Keeping consecutive blocks in window-major order (as long as
 * their windows tile the map without padding) removes the partition / unpartition copies upstream
 * makes around every windowed block.
 * - 'rows': row-major (y, x);
 * - 'win': window-major with square windows of `ws` tokens a side: (wy, wx, y, x), no padding.
 */
export type TokenLayout = { kind: 'rows' } | { kind: 'win'; ws: number };

/** A Hiera feature map: tokens [h·w, c] in `layout` order. */
export interface TokenMap {
  x: T;
  h: number;
  w: number;
  c: number;
  layout: TokenLayout;
}

export const ROWS: TokenLayout = { kind: 'rows' };

export function sameLayout(a: TokenLayout, b: TokenLayout): boolean {
  return a.kind === b.kind && (a.kind === 'rows' || a.ws === (b as { ws: number }).ws);
}

/** Reorder the tokens of `m` into `layout` (one transpose, or nothing when already there). */
export function toLayout(g: GraphBuilder, m: TokenMap, layout: TokenLayout): TokenMap {
  if (sameLayout(m.layout, layout)) return m;
  if (m.layout.kind === 'win' && layout.kind === 'win') return toLayout(g, toLayout(g, m, ROWS), layout);
  const { h, w, c } = m;
  const ws = m.layout.kind === 'win' ? m.layout.ws : (layout as { ws: number }).ws;
  // (wy, y, wx, x) <-> (wy, wx, y, x): the same swap of the middle axes both ways
  const dims = m.layout.kind === 'rows' ? [h / ws, ws, w / ws, ws, c] : [h / ws, w / ws, ws, ws, c];
  const x = g.reshape(g.transpose(g.reshape(m.x, dims), [0, 2, 1, 3, 4]), [h * w, c]);
  return { ...m, x, layout };
}

/**
 * The map as an NCHW tensor (1, c, h, w). Window-major maps go through row-major first: ORT copies
 * both steps in contiguous runs (whole window rows, then a 2-D transpose), while the single 5-D
 * permutation that moves the channel axis runs element by element, several times slower.
 */
export function toNchw(g: GraphBuilder, m: TokenMap): T {
  const r = toLayout(g, m, ROWS);
  return g.reshape(g.transpose(r.x, [1, 0]), [1, m.c, m.h, m.w]);
}

/**
 * nn.MaxPool2d(kernel = stride = s, floor mode) on the map in its own layout. In 'win' layout with
 * ws divisible by s every pooling cell lies inside one window, so pooling per window is the global
 * pooling and the result is window-major with windows of ws/s.
 */
export function maxPoolTokens(
  g: GraphBuilder,
  x: T,
  m: Omit<TokenMap, 'x'>,
  s: number,
): { x: T; h: number; w: number; layout: TokenLayout } {
  const { h, w, c } = m;
  if (m.layout.kind === 'win') {
    const ws = m.layout.ws;
    const nW = (h / ws) * (w / ws);
    // rows of the window: [nW·ws/s, s, ws·c]; then columns: [nW·(ws/s)², s, c]
    const y = pairMax(g, pairMax(g, x, [nW * (ws / s), s, ws * c]), [nW * (ws / s) * (ws / s), s, c]);
    return { x: g.reshape(y, [(h / s) * (w / s), c]), h: h / s, w: w / s, layout: { kind: 'win', ws: ws / s } };
  }
  const ph = Math.floor(h / s);
  const pw = Math.floor(w / s);
  let y = g.reshape(x, [h, w, c]);
  if (ph * s !== h || pw * s !== w) y = g.slice(y, [0, 0], [ph * s, pw * s], [0, 1]);
  y = pairMax(g, pairMax(g, y, [ph, s, pw * s * c]), [ph * pw, s, c]);
  return { x: g.reshape(y, [ph * pw, c]), h: ph, w: pw, layout: ROWS };
}

/**
 * Max over the middle axis of x viewed as `dims` = [outer, s, inner]. Pooling as two such reductions
 * (rows, then columns) keeps ORT on its fast single-middle-axis reduce; one ReduceMax over two
 * non-adjacent axes of a 6-D view falls back to a generic loop several times slower.
 */
function pairMax(g: GraphBuilder, x: T, dims: [number, number, number]): T {
  return g.op1('ReduceMax', [g.reshape(x, dims), g.constI([1])], { keepdims: 0 });
}

/** Build-time reorder of constant (1, c, h, w) data into [h·w, c] tokens in `layout` order. */
export function nchwToTokens(data: Float32Array, c: number, h: number, w: number, layout: TokenLayout): Float32Array {
  const out = new Float32Array(c * h * w);
  const ws = layout.kind === 'win' ? layout.ws : 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const t = ws ? ((Math.floor(y / ws) * (w / ws) + Math.floor(x / ws)) * ws + (y % ws)) * ws + (x % ws) : y * w + x;
      for (let ch = 0; ch < c; ch++) out[t * c + ch] = data[(ch * h + y) * w + x]!;
    }
  return out;
}
