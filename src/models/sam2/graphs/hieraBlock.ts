import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';
import { layerNorm, linear, linearBiasGelu, residualLayerNorm, transpose2d } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import { maxPoolTokens, ROWS, sameLayout, toLayout, type TokenLayout, type TokenMap } from './hieraTokens.js';
import type { HieraBlockSpec } from './hieraConfig.js';

/**
 * MultiScaleBlock.forward on a token map, emitted with fewer copies and FLOPs than the literal form
 * (hieraTrunk's reference block), with the same math:
 * - windows that tile the map run in window-major token order (no partition/unpartition copies);
 * - global blocks attend in whatever order the tokens are in (attention over all tokens is order-free);
 * - windows that need padding project only the real tokens plus one appended zero input row:
 *   upstream pads the normed input with zeros, so a padded token's k/v are exactly that row's
 *   projection (the k/v bias); one Gather per tensor partitions and splits heads, attention computes
 *   no padded query and stands all of a window's padded keys in with one key (paddedWindowAttention),
 *   and proj runs after the crop on real tokens only;
 * - windows that tile the map with several heads project k and v straight into head-major order
 *   with per-head weights and no bias: the k bias adds q·bk to a whole score row, which softmax
 *   ignores, so it is dropped; softmax weights sum to one, so the v bias passes through attention
 *   unchanged and is folded into the proj bias (bp + Wp·bv);
 * - biases are added late where another op adds them for free: proj, shortcut and fc2 biases ride in
 *   the SkipLayerNormalization that adds the residual (its optional bias input); the pooled
 *   shortcut/q bias is added after the max-pool (max(x + b) = max(x) + b per channel), on 1/s² of
 *   the tokens. ORT runs a biased MatMul as a Gemm that first writes the bias over its whole output,
 *   an extra pass the plain MatMul avoids. (k/v keep their biases elsewhere: dropping/folding them
 *   bought no measurable time and moved the rounding further from upstream's.)
 * Returns undefined for block shapes these forms do not cover (the caller uses the reference block).
 */
export function tokenBlock(
  g: GraphBuilder,
  ws: WeightStore,
  p: string,
  spec: HieraBlockSpec,
  input: TokenMap | ResidualSum,
): BlockResult | undefined {
  const win = spec.windowSize;
  const st = spec.qStride;
  if (st && (st[0] !== st[1] || spec.dim === spec.dimOut)) return undefined;
  const s = st ? st[0] : 1;
  if (win > 0 && win % s !== 0) return undefined;
  const mode = win === 0 ? 'global' : input.h % win === 0 && input.w % win === 0 ? 'window' : 'padded';
  let layout = input.layout;
  if (mode === 'window') layout = { kind: 'win', ws: win };
  else if (mode === 'padded') layout = ROWS;
  else if (s > 1 && layout.kind === 'win' && layout.ws % s !== 0) layout = ROWS;
  if (mode === 'padded' && !padTilingConsistent(input.h, input.w, win, s)) return undefined;

  const { dim, dimOut, numHeads } = spec;
  // norm1 of a pending residual sum is one SkipLayerNormalization (it also gives the sum, the shortcut)
  let m: TokenMap;
  let xn: T;
  let realized: TokenMap;
  if ('a' in input && sameLayout(layout, input.layout)) {
    const r = residualLayerNorm(g, ws, `${p}.norm1`, input.a, input.b, HIERA_LN_EPS, input.bias);
    realized = { x: r.sum, h: input.h, w: input.w, c: input.c, layout };
    m = realized;
    xn = r.normed;
  } else {
    realized = 'a' in input ? realizeSum(g, input) : input;
    m = toLayout(g, realized, layout);
    xn = layerNorm(g, ws, `${p}.norm1`, m.x, HIERA_LN_EPS);
  }
  const w = qkvWeights(ws, `${p}.attn.qkv`, dim, dimOut);
  let shortcut = m.x;
  let shortcutBias: Float32Array | undefined;
  let q: PooledQ;
  if (s > 1) {
    // the shortcut proj and q are pooled the same way: one GEMM and one pool for both, split after
    // the pool (on 1/s² of the tokens), biases added after the pool
    const sc = linearWeights(ws, `${p}.proj`);
    const both = matmulConcat(g, `${p}.proj+q`, xn, dim, [sc.w, w.w[0]], [sc.cout, dimOut]);
    const pooled = maxPoolTokens(g, both, { ...m, c: 2 * dimOut }, s);
    const [scx, qx] = g.split(pooled.x, [dimOut, dimOut], 1) as [T, T];
    shortcut = scx;
    shortcutBias = sc.b;
    q = { x: g.add(qx, g.initializer(w.b[0], [dimOut], `${w.prefix}.bias.q`)), h: pooled.h, w: pooled.w, layout: pooled.layout };
  } else {
    if (dim !== dimOut) shortcut = linear(g, ws, `${p}.proj`, xn);
    q = { x: project(g, xn, w, 0, true), h: m.h, w: m.w, layout: m.layout };
  }
  const out = g.scope('attn', () =>
    mode === 'padded'
      ? paddedWindowAttention(g, xn, m, q, w, win, s, numHeads)
      : tiledAttention(g, xn, m, q, w, mode === 'window' ? (m.h / win) * (m.w / win) : 1, numHeads),
  );
  const proj = projWithoutBias(g, ws, `${p}.attn.proj`, out.x, out.vBias);
  const bias = shortcutBias ? proj.bias.map((b, i) => b + shortcutBias[i]!) : proj.bias;

  const r = residualLayerNorm(
    g,
    ws,
    `${p}.norm2`,
    shortcut,
    proj.y,
    HIERA_LN_EPS,
    g.initializer(Float32Array.from(bias), [dimOut], `${p}.residual1_bias`),
  );
  const mlp = geluMlpLateBias(g, ws, `${p}.mlp`, r.normed);
  return { out: { a: r.sum, b: mlp.y, bias: mlp.bias, h: out.h, w: out.w, c: dimOut, layout: out.layout }, input: realized };
}

/**
 * A block's output, and its input as a plain map (when the input was a pending sum, the sum its
 * norm1 produced: a stage output taken from there costs no extra Add).
 */
export interface BlockResult {
  out: ResidualSum;
  input: TokenMap;
}

/** A block output x = a + b whose Add is left for the next block's norm1 to fuse (see tokenBlock). */
export interface ResidualSum extends Omit<TokenMap, 'x'> {
  a: T;
  b: T;
  /** A per-channel bias still to add (an initializer), or undefined. */
  bias?: T;
}

export function realizeSum(g: GraphBuilder, r: ResidualSum): TokenMap {
  const sum = g.add(r.a, r.b);
  return { x: r.bias ? g.add(sum, r.bias) : sum, h: r.h, w: r.w, c: r.c, layout: r.layout };
}

/** Hiera's LayerNorm eps (upstream builds its norms with eps 1e-6). */
const HIERA_LN_EPS = 1e-6;

/** The token order tokenBlock runs `spec` in on an h×w map (window-major when its windows tile the map). */
export function preferredLayout(spec: HieraBlockSpec, h: number, w: number): TokenLayout {
  const win = spec.windowSize;
  return win > 0 && h % win === 0 && w % win === 0 ? { kind: 'win', ws: win } : ROWS;
}

/** Upstream's unpartition of a q-pooled padded block only lines up when both grids have the same window count per axis. */
function padTilingConsistent(h: number, w: number, win: number, s: number): boolean {
  if (s === 1) return true;
  const qwin = win / s;
  const n = (v: number, k: number) => Math.ceil(v / k);
  return n(Math.floor(h / s), qwin) === n(h, win) && n(Math.floor(w / s), qwin) === n(w, win);
}

/** The block MLP (Linear → exact GELU → Linear), the first bias + GELU as one BiasGelu kernel. */
export function geluMlp(g: GraphBuilder, ws: WeightStore, p: string, x: T): T {
  return linear(g, ws, `${p}.layers.1`, linearBiasGelu(g, ws, `${p}.layers.0`, x));
}

/** geluMlp with fc2's bias returned (for the residual SkipLayerNormalization) instead of added. */
function geluMlpLateBias(g: GraphBuilder, ws: WeightStore, p: string, x: T): { y: T; bias: T } {
  const y = linear(g, ws, `${p}.layers.1`, linearBiasGelu(g, ws, `${p}.layers.0`, x), { bias: false });
  const out = ws.get(`${p}.layers.1.weight`).shape[0]!;
  return { y, bias: g.initializer(ws.get(`${p}.layers.1.bias`, [out]).data, [out], `${p}.layers.1.bias`) };
}

/** qkv Linear(dim, 3·dimOut) split into its q/k/v thirds ([dim, dimOut] transposed weights, biases). */
interface QkvWeights {
  w: [Float32Array, Float32Array, Float32Array];
  b: [Float32Array, Float32Array, Float32Array];
  dim: number;
  dimOut: number;
  prefix: string;
}

function qkvWeights(ws: WeightStore, prefix: string, dim: number, dimOut: number): QkvWeights {
  const w = ws.get(`${prefix}.weight`, [3 * dimOut, dim]).data;
  const b = ws.get(`${prefix}.bias`, [3 * dimOut]).data;
  const third = (i: number) => transpose2d(w.subarray(i * dimOut * dim, (i + 1) * dimOut * dim), dimOut, dim);
  const bias = (i: number) => b.slice(i * dimOut, (i + 1) * dimOut);
  return { w: [third(0), third(1), third(2)], b: [bias(0), bias(1), bias(2)], dim, dimOut, prefix };
}

/** A Linear's weight as [in, out] and its bias. */
interface LinearWeights {
  w: Float32Array;
  b: Float32Array;
  cin: number;
  cout: number;
}

function linearWeights(ws: WeightStore, prefix: string): LinearWeights {
  const w = ws.get(`${prefix}.weight`);
  const [cout, cin] = w.shape as [number, number];
  return { w: transpose2d(w.data, cout, cin), b: ws.get(`${prefix}.bias`, [cout]).data, cin, cout };
}

/** x times several [cin, cout_i] weights as one MatMul, outputs concatenated along the channels. */
function matmulConcat(g: GraphBuilder, name: string, x: T, cin: number, ws: Float32Array[], couts: number[]): T {
  const cout = couts.reduce((a, c) => a + c, 0);
  const w = new Float32Array(cin * cout);
  let off = 0;
  ws.forEach((wi, j) => {
    const cj = couts[j]!;
    for (let i = 0; i < cin; i++) w.set(wi.subarray(i * cj, (i + 1) * cj), i * cout + off);
    off += cj;
  });
  return g.matmul(x, g.initializer(w, [cin, cout], `${name}.weight`));
}

/** x·W_i (+ b_i) for third i of qkv. */
function project(g: GraphBuilder, x: T, qkv: QkvWeights, i: 0 | 1 | 2, withBias: boolean): T {
  const n = 'qkv'[i]!;
  const y = g.matmul(x, g.initializer(qkv.w[i], [qkv.dim, qkv.dimOut], `${qkv.prefix}.weight.${n}`));
  return withBias ? g.add(y, g.initializer(qkv.b[i], [qkv.dimOut], `${qkv.prefix}.bias.${n}`)) : y;
}

/**
 * softmax(q·kᵀ/√d)·v on head-major [nW, nH, L, hd] tensors (rank 3 when nH = 1). q·kᵀ is ORT's
 * FusedMatMul with transB and the 1/√d scale (what ORT fuses MatMul(q, Transpose(k))/√d into when it
 * can); emitted directly so no optimizer pass merges a head-split transpose into a slow kᵀ copy.
 */
function attentionCore(g: GraphBuilder, q: T, k: T, v: T, hd: number): T {
  const scores = g.op('FusedMatMul', [q, k], { transB: 1, alpha: { float: 1 / Math.sqrt(hd) } }, 1, 'com.microsoft')[0]!;
  return g.matmul(g.softmax(scores, -1), v);
}

interface AttnOut {
  x: T;
  h: number;
  w: number;
  layout: TokenLayout;
  /** The v bias when attention ran without it (it passes through softmax-weighted sums unchanged). */
  vBias?: Float32Array;
}

/** q after projection (and max-pooling): tokens of the output map, in its layout. */
type PooledQ = AttnOut;

/**
 * Attention over `nW` equal consecutive token groups of `m` (its windows in 'win' layout, or the whole
 * map as one group); q already projected and pooled in the map's own layout. Output tokens follow q's order.
 */
function tiledAttention(g: GraphBuilder, xn: T, m: TokenMap, q: PooledQ, qkv: QkvWeights, nW: number, nH: number): AttnOut {
  const dOut = qkv.dimOut;
  const hd = dOut / nH;
  const L = (m.h * m.w) / nW;
  const Lq = (q.h * q.w) / nW;
  const geo = { h: q.h, w: q.w, layout: q.layout };
  if (nW === 1 && nH > 1) {
    // one group: FusedMatMul reads [L, heads, hd] as [heads, L, hd] itself (transBatch), no head-split copies
    const k = project(g, xn, qkv, 1, true);
    const v = project(g, xn, qkv, 2, true);
    const qh = g.reshape(q.x, [Lq, nH, hd]);
    const scores = g.op(
      'FusedMatMul',
      [qh, g.reshape(k, [L, nH, hd])],
      { transB: 1, transBatchA: 1, transBatchB: 1, alpha: { float: 1 / Math.sqrt(hd) } },
      1,
      'com.microsoft',
    )[0]!;
    const att = g.op('FusedMatMul', [g.softmax(scores, -1), g.reshape(v, [L, nH, hd])], { transBatchB: 1 }, 1, 'com.microsoft')[0]!;
    return { ...geo, x: g.reshape(g.transpose(att, [1, 0, 2]), [Lq, dOut]) };
  }
  if (nH === 1) {
    const k = project(g, xn, qkv, 1, true);
    const v = project(g, xn, qkv, 2, true);
    const att = attentionCore(g, g.reshape(q.x, [nW, Lq, hd]), g.reshape(k, [nW, L, hd]), g.reshape(v, [nW, L, hd]), hd);
    return { ...geo, x: g.reshape(att, [nW * Lq, hd]) };
  }
  // several heads and windows: k and v projected straight into head-major [heads, windows, L, hd]
  // (one GEMM per head, no head-split copies)
  const k = projectHeadMajor(g, xn, qkv, 1, nH);
  const v = projectHeadMajor(g, xn, qkv, 2, nH);
  const qh = g.transpose(g.reshape(q.x, [nW, Lq, nH, hd]), [2, 0, 1, 3]);
  const att = attentionCore(g, qh, g.reshape(k, [nH, nW, L, hd]), g.reshape(v, [nH, nW, L, hd]), hd);
  return { ...geo, x: g.reshape(g.transpose(att, [1, 2, 0, 3]), [nW * Lq, dOut]), vBias: qkv.b[2] };
}

/** x·W_i of qkv third i as [heads, tokens, hd]: a MatMul against per-head [heads, dim, hd] weights (no bias). */
function projectHeadMajor(g: GraphBuilder, x: T, qkv: QkvWeights, i: 1 | 2, nH: number): T {
  const { dim, dimOut } = qkv;
  const hd = dimOut / nH;
  const w = qkv.w[i];
  const hw = new Float32Array(dim * dimOut);
  for (let h = 0; h < nH; h++)
    for (let c = 0; c < dim; c++) hw.set(w.subarray(c * dimOut + h * hd, c * dimOut + (h + 1) * hd), (h * dim + c) * hd);
  return g.matmul(x, g.initializer(hw, [nH, dim, hd], `${qkv.prefix}.weight.${'qkv'[i]}.per_head`));
}

/** One attention window: the rows of its real q tokens and of its real k/v tokens (row-major map indices). */
interface WindowRows {
  q: number[];
  kv: number[];
}

/** The windows of an h×w key map (window `win`) and of its q map (window `win/s`), row-major window order. */
function windowRows(h: number, w: number, win: number, qh: number, qw: number, qwin: number): WindowRows[] {
  const out: WindowRows[] = [];
  const cells = (wy: number, wx: number, ww: number, hh: number, wd: number): number[] => {
    const rows: number[] = [];
    for (let y = wy * ww; y < Math.min(hh, (wy + 1) * ww); y++)
      for (let x = wx * ww; x < Math.min(wd, (wx + 1) * ww); x++) rows.push(y * wd + x);
    return rows;
  };
  for (let wy = 0; wy < Math.ceil(h / win); wy++)
    for (let wx = 0; wx < Math.ceil(w / win); wx++) out.push({ q: cells(wy, wx, qwin, qh, qw), kv: cells(wy, wx, win, h, w) });
  return out;
}

/**
 * Row-major tokens [rows, nH·hd] → head-major windows [nW, nH, L, hd] as ONE Gather of hd-long rows
 * (partition + head split in a single copy): window i's slot j reads row `rows[i][j]`, slots past
 * its end read `fill` (a padding row, or any row whose results are never used).
 */
function gatherWindowRows(g: GraphBuilder, x: T, nRows: number, rows: number[][], L: number, nH: number, hd: number, fill: number): T {
  const idx = new BigInt64Array(rows.length * nH * L);
  let i = 0;
  for (const r of rows)
    for (let head = 0; head < nH; head++) for (let j = 0; j < L; j++) idx[i++] = BigInt((j < r.length ? r[j]! : fill) * nH + head);
  const y = g.gather(g.reshape(x, [nRows * nH, hd]), g.initializer(idx, [idx.length], 'window_rows'), 0);
  return g.reshape(y, [rows.length, nH, L, hd]);
}

/**
 * Windowed attention where the windows need padding (row-major map); see tokenBlock. Upstream pads
 * the normed tokens with zeros before qkv, so every padded key/value of a window is the same row (the
 * k/v bias: the projection of the appended zero row, row n) and padded queries only make outputs the
 * crop discards. So the windows run in two groups, neither computing a padded query:
 * - windows without padding: plain attention on their real tokens;
 * - windows with padding: their real keys, then copies of the padding row up to the group's largest
 *   real-key count Lk, then ONE more padding key whose score gets + ln(win² − Lk): softmax weights
 *   e^(s + ln m) = m·e^s, exactly the m padded keys it stands for (real arithmetic; float32 rounding
 *   of the sums differs at the 1e-7 level). Their queries are padded only up to the group's largest
 *   real-query count (those rows are discarded).
 * At tiny512 (32×32 map, window 14: 4 full, 4 edge 14×4 and 1 corner 4×4 windows) this computes
 * 169,624 instead of 345,744 query·key pairs per head.
 */
function paddedWindowAttention(
  g: GraphBuilder,
  xn: T,
  m: TokenMap,
  q: PooledQ,
  qkv: QkvWeights,
  win: number,
  s: number,
  nH: number,
): AttnOut {
  const dOut = qkv.dimOut;
  const hd = dOut / nH;
  const n = m.h * m.w;
  // one zero row appended to the normed input: its k and v rows (the biases) are the padding
  const xz = g.concat([xn, g.constF(new Float32Array(qkv.dim), [1, qkv.dim])], 0);
  const k = project(g, xz, qkv, 1, true);
  const v = project(g, xz, qkv, 2, true);
  // q was pooled on the unpadded map: pooling cells of kept outputs never touch padding (floor mode)
  const { h: qh, w: qw } = q;
  const windows = windowRows(m.h, m.w, win, qh, qw, win / s);
  const full = windows.filter((r) => r.kv.length === win * win);
  const partial = windows.filter((r) => r.kv.length < win * win);
  const groups: { rows: WindowRows[]; Lq: number; out: T }[] = [];
  const run = (rows: WindowRows[], padded: boolean) => {
    const Lq = Math.max(...rows.map((r) => r.q.length));
    const Lk = Math.max(...rows.map((r) => r.kv.length));
    const kvRows = rows.map((r) => r.kv);
    const slots = padded ? Lk + 1 : Lk;
    const qg = gatherWindowRows(
      g,
      q.x,
      qh * qw,
      rows.map((r) => r.q),
      Lq,
      nH,
      hd,
      0,
    );
    const kg = gatherWindowRows(g, k, n + 1, kvRows, slots, nH, hd, n);
    const vg = gatherWindowRows(g, v, n + 1, kvRows, slots, nH, hd, n);
    let out: T;
    if (!padded) out = attentionCore(g, qg, kg, vg, hd);
    else {
      const scores = g.op('FusedMatMul', [qg, kg], { transB: 1, alpha: { float: 1 / Math.sqrt(hd) } }, 1, 'com.microsoft')[0]!;
      const offset = new Float32Array(slots);
      offset[Lk] = Math.log(win * win - Lk);
      out = g.matmul(g.softmax(g.add(scores, g.initializer(offset, [slots], 'pad_key_log_count')), -1), vg);
    }
    groups.push({ rows, Lq, out });
  };
  if (full.length) run(full, false);
  if (partial.length) run(partial, true);
  // unpartition + crop in one Gather over the groups' outputs ([windows, heads, Lq, hd] each)
  const idx = new BigInt64Array(qh * qw * nH);
  let base = 0;
  for (const grp of groups) {
    grp.rows.forEach((r, wi) =>
      r.q.forEach((row, j) => {
        for (let head = 0; head < nH; head++) idx[row * nH + head] = BigInt(base + (wi * nH + head) * grp.Lq + j);
      }),
    );
    base += grp.rows.length * nH * grp.Lq;
  }
  const flat = groups.map((grp) => g.reshape(grp.out, [grp.rows.length * nH * grp.Lq, hd]));
  const all = flat.length === 1 ? flat[0]! : g.concat(flat, 0);
  const y = g.gather(all, g.initializer(idx, [idx.length], 'token_rows'), 0);
  return { x: g.reshape(y, [qh * qw, dOut]), h: qh, w: qw, layout: ROWS };
}

/**
 * proj Linear without its bias add; returns the bias to add later, with a v bias carried through
 * attention when given: bp + Wp·bv (float64, rounded once).
 */
function projWithoutBias(g: GraphBuilder, ws: WeightStore, prefix: string, x: T, bv?: Float32Array): { y: T; bias: Float64Array } {
  const w = ws.get(`${prefix}.weight`);
  const [out, inp] = w.shape as [number, number];
  const bp = ws.get(`${prefix}.bias`, [out]).data;
  const bias = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let acc = bp[o]!;
    if (bv) for (let i = 0; i < inp; i++) acc += w.data[o * inp + i]! * bv[i]!;
    bias[o] = acc;
  }
  return { y: linear(g, ws, prefix, x, { bias: false }), bias };
}
