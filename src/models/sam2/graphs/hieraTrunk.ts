import { MedsamError } from '../../../common/errors.js';
import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';
import { conv2d, layerNorm, linear } from '../../onnx/torchLayers.js';
import type { WeightStore } from '../../onnx/weightStore.js';
import type { HieraBlockSpec, HieraTrunkConfig } from './hieraConfig.js';
import { hieraPosEmbed } from './hieraPosEmbed.js';
import { windowAttention, type AttentionImpl } from './hieraAttention.js';
import { maxPoolNhwc } from './hieraPool.js';
import { geluMlp, preferredLayout, realizeSum, tokenBlock, type ResidualSum } from './hieraBlock.js';
import { nchwToTokens, ROWS, toLayout, type TokenMap } from './hieraTokens.js';

export interface HieraPlan {
  blocks: HieraBlockSpec[];
  /** Index of the last block of each stage (their outputs are the trunk outputs). */
  stageEnds: number[];
  /** Output channels per stage, highest resolution first. */
  stageDims: number[];
}

/** Mirrors Hiera.__init__: dims/heads change on the first block of a stage, whose window lags a stage. */
export function hieraPlan(cfg: HieraTrunkConfig): HieraPlan {
  const depth = cfg.stages.reduce((a, b) => a + b, 0);
  const stageEnds = cfg.stages.map((_, i) => cfg.stages.slice(0, i + 1).reduce((a, b) => a + b, 0) - 1);
  if (cfg.qPool < 0 || cfg.qPool > stageEnds.length - 1) {
    throw new MedsamError(`Hiera q_pool ${cfg.qPool} is out of range for ${cfg.stages.length} stages`, 'fix the model YAML');
  }
  const qPoolBlocks = stageEnds
    .slice(0, -1)
    .map((e) => e + 1)
    .slice(0, cfg.qPool);
  let embedDim = cfg.embedDim;
  let numHeads = cfg.numHeads;
  let curStage = 1;
  const blocks: HieraBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    let dimOut = embedDim;
    let windowSize = cfg.windowSpec[curStage - 1]!;
    if (cfg.globalAttBlocks.includes(i)) windowSize = 0;
    if (stageEnds.includes(i - 1)) {
      dimOut = Math.trunc(embedDim * cfg.dimMul);
      numHeads = Math.trunc(numHeads * cfg.headMul);
      curStage += 1;
    }
    blocks.push({ dim: embedDim, dimOut, numHeads, windowSize, qStride: qPoolBlocks.includes(i) ? cfg.qStride : undefined });
    embedDim = dimOut;
  }
  return { blocks, stageEnds, stageDims: stageEnds.map((e) => blocks[e]!.dimOut) };
}

/** A (1,H,W,C) tensor and its static size. */
interface Map2d {
  x: T;
  h: number;
  w: number;
  c: number;
}

/** window_partition: (1,H,W,C) → zero-pad to multiples of ws → (nWh·nWw, ws·ws, C). */
function windowPartition(g: GraphBuilder, m: Map2d, ws: number): { x: T; hp: number; wp: number } {
  const padH = (ws - (m.h % ws)) % ws;
  const padW = (ws - (m.w % ws)) % ws;
  let x = m.x;
  if (padH > 0 || padW > 0) x = g.op1('Pad', [x, g.constI([0, 0, 0, 0, 0, padH, padW, 0])]);
  const hp = m.h + padH;
  const wp = m.w + padW;
  x = g.reshape(x, [hp / ws, ws, wp / ws, ws, m.c]);
  x = g.transpose(x, [0, 2, 1, 3, 4]);
  return { x: g.reshape(x, [(hp / ws) * (wp / ws), ws * ws, m.c]), hp, wp };
}

/** window_unpartition: (nW, ws·ws, C) → (1,Hp,Wp,C) → crop to (1,H,W,C). */
function windowUnpartition(g: GraphBuilder, x: T, ws: number, hp: number, wp: number, h: number, w: number, c: number): T {
  let y = g.reshape(x, [hp / ws, wp / ws, ws, ws, c]);
  y = g.transpose(y, [0, 2, 1, 3, 4]);
  y = g.reshape(y, [1, hp, wp, c]);
  if (hp > h || wp > w) y = g.slice(y, [0, 0], [h, w], [1, 2]);
  return y;
}

/** MultiScaleBlock.forward on a (1,H,W,C) map, literally as upstream (the reference form; tokenBlock is the fast one). */
function multiScaleBlock(g: GraphBuilder, ws: WeightStore, p: string, spec: HieraBlockSpec, m: Map2d, impl: AttentionImpl): Map2d {
  const xn = layerNorm(g, ws, `${p}.norm1`, m.x, 1e-6);
  let shortcut = m.x;
  let sh = m.h;
  let sw = m.w;
  if (spec.dim !== spec.dimOut) {
    shortcut = linear(g, ws, `${p}.proj`, xn);
    if (spec.qStride) {
      shortcut = maxPoolNhwc(g, shortcut, [1, m.h, m.w, spec.dimOut], spec.qStride);
      sh = Math.floor(m.h / spec.qStride[0]);
      sw = Math.floor(m.w / spec.qStride[1]);
    }
  } else if (spec.qStride) {
    // upstream pools the shortcut only through proj; a pooled block without a dim change would fail there too
    throw new MedsamError('Hiera q-pooling block without a dim change is not supported', 'use dim_mul > 1 (upstream configs do)');
  }

  // windows of the (padded) input; a global block is one window covering the whole map
  const win = spec.windowSize;
  const part =
    win > 0
      ? windowPartition(g, { x: xn, h: m.h, w: m.w, c: spec.dim }, win)
      : { x: g.reshape(xn, [1, m.h * m.w, spec.dim]), hp: m.h, wp: m.w };
  const [winH, winW] = win > 0 ? [win, win] : [m.h, m.w];
  const numWindows = (part.hp / winH) * (part.wp / winW);

  let attnOut = g.scope('attn', () =>
    windowAttention(g, ws, `${p}.attn`, part.x, {
      numWindows,
      winH,
      winW,
      dim: spec.dim,
      dimOut: spec.dimOut,
      numHeads: spec.numHeads,
      qStride: spec.qStride,
      impl,
    }),
  );

  // back to the (pooled) map
  let outWin = win;
  let hp = part.hp;
  let wp = part.wp;
  if (spec.qStride) {
    outWin = Math.floor(win / spec.qStride[0]);
    if (win > 0) {
      hp = sh + ((outWin - (sh % outWin)) % outWin);
      wp = sw + ((outWin - (sw % outWin)) % outWin);
      if ((hp / outWin) * (wp / outWin) !== numWindows) {
        throw new MedsamError(
          `Hiera window ${win} with q_stride ${spec.qStride} does not tile the ${m.h}x${m.w} grid consistently`,
          'use an image_size that is a multiple of 32 · window size',
        );
      }
    }
  }
  attnOut = win > 0 ? windowUnpartition(g, attnOut, outWin, hp, wp, sh, sw, spec.dimOut) : g.reshape(attnOut, [1, sh, sw, spec.dimOut]);

  let x = g.add(shortcut, attnOut);
  const hidden = geluMlp(g, ws, `${p}.mlp`, layerNorm(g, ws, `${p}.norm2`, x, 1e-6));
  x = g.add(x, hidden);
  return { x, h: sh, w: sw, c: spec.dimOut };
}

export interface HieraOutputs {
  /** Stage outputs as token maps, highest resolution first (Hiera.forward's list; toNchw gives its NCHW form). */
  stages: TokenMap[];
}

/**
 * Hiera.forward: image (1,3,S,S) → one feature map per stage (token maps; toNchw gives the NCHW form).
 * Weights under `prefix` (image_encoder.trunk). impl 'matmul' runs every block it can as tokenBlock
 * (the fast forms); 'mha', and block shapes tokenBlock does not cover, use the literal reference block.
 */
export function hieraTrunk(
  g: GraphBuilder,
  ws: WeightStore,
  prefix: string,
  cfg: HieraTrunkConfig,
  image: T,
  imageSize: number,
  impl: AttentionImpl = 'matmul',
): HieraOutputs {
  const plan = hieraPlan(cfg);
  const C = cfg.embedDim;
  // PatchEmbed: 7x7 conv, stride 4, pad 3 (fixed in upstream's constructor)
  const h = Math.floor((imageSize + 2 * 3 - 7) / 4) + 1;
  const w = h;
  const x = g.scope('patch_embed', () => conv2d(g, ws, `${prefix}.patch_embed.proj`, image, { stride: 4, padding: 3 }));

  const bkg = cfg.windowPosEmbedBkgSpatialSize;
  const win0 = cfg.windowSpec[0]!;
  const pe = ws.get(`${prefix}.pos_embed`, [1, C, bkg[0], bkg[1]]);
  const pw = ws.get(`${prefix}.pos_embed_window`, [1, C, win0, win0]);
  const pos = hieraPosEmbed(pe.data, bkg, pw.data, [win0, win0], C, h, w);
  // NCHW → NHWC as the plain 4-D transpose ORT folds into the conv's output reorder (channels-last);
  // the pos-embed add is left pending for block 0's norm1 (a constant, laid out here in token order)
  const layout0 = impl === 'matmul' ? preferredLayout(plan.blocks[0]!, h, w) : ROWS;
  const tokens = toLayout(g, { x: g.reshape(g.transpose(x, [0, 2, 3, 1]), [h * w, C]), h, w, c: C, layout: ROWS }, layout0);
  const posTokens = g.initializer(nchwToTokens(pos, C, h, w, layout0), [h * w, C], `${prefix}.pos_embed_resized`);
  let m: TokenMap | ResidualSum = { a: tokens.x, b: posTokens, h, w, c: C, layout: layout0 };

  const stages: HieraOutputs['stages'] = [];
  // a stage output is the next block's input: taken from that block, where norm1 realises the sum
  let stageDue = false;
  plan.blocks.forEach((spec, i) => {
    const res = g.scope(`blocks.${i}`, (): { out: TokenMap | ResidualSum; input: TokenMap } => {
      const fast = impl === 'matmul' ? tokenBlock(g, ws, `${prefix}.blocks.${i}`, spec, m) : undefined;
      if (fast) return fast;
      const input = 'a' in m ? realizeSum(g, m) : m;
      const r = toLayout(g, input, ROWS);
      const y = multiScaleBlock(
        g,
        ws,
        `${prefix}.blocks.${i}`,
        spec,
        { x: g.reshape(r.x, [1, r.h, r.w, r.c]), h: r.h, w: r.w, c: r.c },
        impl,
      );
      return { out: { x: g.reshape(y.x, [y.h * y.w, y.c]), h: y.h, w: y.w, c: y.c, layout: ROWS }, input };
    });
    if (stageDue) stages.push(res.input);
    m = res.out;
    stageDue = plan.stageEnds.includes(i);
  });
  const last = m as TokenMap | ResidualSum; // assigned in the loop callback, which narrowing does not see
  if (stageDue) stages.push('a' in last ? realizeSum(g, last) : last);
  return { stages };
}
