import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../../src/models/checkpoint/index.js';
import { WeightStore } from '../../src/models/onnx/weightStore.js';
import { imageEncoderConfigFromYaml } from '../../src/models/sam2/graphs/hieraConfig.js';
import { hieraPlan } from '../../src/models/sam2/graphs/hieraTrunk.js';
import { buildImageEncoderGraph, IMAGE_ENCODER_IO } from '../../src/models/sam2/graphs/imageEncoder.js';
import { fixtureDir } from '../helpers/sam2Fixtures.js';

/**
 * Upstream Hiera pads each windowed block's normed tokens to a multiple of the window before qkv and
 * crops after proj; at 512 px the stage-3 map (32×32, window 14) pads to 42×42 and stage 4 (16×16,
 * window 7) to 21×21. Our graph must spend no GEMM on that padding: the qkv/proj GEMMs of those
 * blocks read the real tokens (plus one zero row whose projection is the padding), and their
 * attention products compute each window's real query·key pairs (plus one key standing for all
 * padded keys), not the padded windows' win²·win² pairs. Checked on the shapes ONNX Runtime
 * records while running the micro512 encoder (same stages, windows and grids as MedSAM2 tiny512).
 * Numerical equality with the literal padded blocks: hieraTokenBlocks.test.ts and `npm run parity`.
 */
const dir = fixtureDir();
const yaml = join(dir, 'micro512.yaml');
const ckpt = join(dir, 'micro512.pt');
const skip = !(existsSync(yaml) && existsSync(ckpt)) && `needs ${dir}/micro512.{yaml,pt} (SAM2 fixtures)`;

interface NodeShapes {
  name: string;
  op: string;
  inputs: number[][];
  output: number[];
}

async function profiledShapes(model: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<NodeShapes[]> {
  const pd = mkdtempSync(join(tmpdir(), 'medsam2-hiera-prof-'));
  try {
    const s = await ort.InferenceSession.create(model, {
      intraOpNumThreads: 2,
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: join(pd, 'p'),
    });
    await s.run(feeds);
    (s as unknown as { endProfiling(): void }).endProfiling();
    await s.release();
    const file = readdirSync(pd).find((f) => f.endsWith('.json'))!;
    const first = (x: Record<string, number[]> | undefined) => (x ? (Object.values(x)[0] ?? []) : []);
    return (JSON.parse(readFileSync(join(pd, file), 'utf8')) as any[])
      .filter((e) => e.cat === 'Node' && String(e.name).endsWith('_kernel_time'))
      .map((e) => ({
        name: e.name as string,
        op: e.args.op_name as string,
        inputs: (e.args.input_type_shape ?? []).map(first),
        output: first(e.args.output_type_shape?.[0]),
      }));
  } finally {
    rmSync(pd, { recursive: true, force: true });
  }
}

/** Real token counts of the windows along one axis of length n (window win): win, …, win, n mod win. */
const axisWindows = (n: number, win: number): number[] => Array.from({ length: Math.ceil(n / win) }, (_, i) => Math.min(win, n - i * win));

test('Hiera blocks with padded windows spend no GEMM or attention work on the padding (micro512 encoder)', { skip }, async () => {
  const cfg = imageEncoderConfigFromYaml(readFileSync(yaml, 'utf8'));
  const ws = new WeightStore((await loadCheckpoint(ckpt)).tensors, ckpt);
  const S = cfg.imageSize;
  const nodes = await profiledShapes(buildImageEncoderGraph(cfg, ws), {
    [IMAGE_ENCODER_IO.image]: new ort.Tensor('float32', new Float32Array(3 * S * S).fill(0.25), [1, 3, S, S]),
  });
  const plan = hieraPlan(cfg.trunk);
  let side = S / 4;
  let padded = 0;
  plan.blocks.forEach((b, i) => {
    const s = b.qStride?.[0] ?? 1;
    const out = Math.floor(side / s);
    const win = b.windowSize;
    if (win > 0 && side % win !== 0) {
      padded++;
      const mine = nodes.filter((n) => n.name.includes(`trunk/blocks.${i}/`));
      // GEMMs on token rows: at most the real tokens + the one zero row, never the padded map
      const padTokens = Math.ceil(side / win) * win * Math.ceil(side / win) * win;
      for (const n of mine.filter((x) => (x.op === 'MatMul' || x.op === 'Gemm') && x.inputs[0]!.length === 2)) {
        const rows = n.inputs[0]![0]!;
        assert.ok(rows <= side * side + 1, `block ${i} ${n.name}: ${rows} rows, the map has ${side * side} tokens (padded ${padTokens})`);
      }
      // attention products: query·key pairs computed vs each window's real pairs (+1 key for the padding)
      const qAxis = axisWindows(out, win / s);
      const kAxis = axisWindows(side, win);
      let real = 0;
      qAxis.forEach((qy, a) => qAxis.forEach((qx, c) => (real += qy * qx * (kAxis[a]! * kAxis[c]! + 1))));
      const products = mine.filter((x) => x.op === 'FusedMatMul');
      assert.ok(products.length > 0, `block ${i}: no attention products found`);
      const pairs = products.reduce((t, x) => t + x.output.reduce((p, d) => p * d, 1), 0) / b.numHeads;
      const paddedPairs = qAxis.length * qAxis.length * (win / s) ** 2 * win ** 2;
      assert.ok(
        pairs <= 1.1 * real,
        `block ${i}: attention computes ${pairs} query·key pairs per head; real windows need ${real} (padded windows ${paddedPairs})`,
      );
    }
    side = out;
  });
  assert.equal(padded, 5, 'micro512 has 3 padded stage-3 blocks and 2 padded stage-4 blocks (one q-pooled)');
});
