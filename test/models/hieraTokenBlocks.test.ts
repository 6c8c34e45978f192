import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../../src/models/checkpoint/index.js';
import { WeightStore } from '../../src/models/onnx/weightStore.js';
import { imageEncoderConfigFromYaml, type ImageEncoderConfig } from '../../src/models/sam2/graphs/hieraConfig.js';
import { buildImageEncoderGraph, IMAGE_ENCODER_IO } from '../../src/models/sam2/graphs/imageEncoder.js';
import { fixtureDir } from '../helpers/sam2Fixtures.js';

/**
 * The fast Hiera block forms (window-major token order, padded windows by Gather, late biases,
 * fused norms) against the literal reference blocks (attention 'mha' builds every block the
 * upstream way), on shapes the 512 px fixtures never reach: 1024 px, stage-2 windows that need
 * padding (plain and q-pooled), and a q-pooled global block in window-major order. Weights: the micro512 fixture checkpoint (random, small); the comparison needs no reference data.
 */
const dir = fixtureDir();
const yaml = join(dir, 'micro512.yaml');
const ckpt = join(dir, 'micro512.pt');
const skip = !(existsSync(yaml) && existsSync(ckpt)) && `needs ${dir}/micro512.{yaml,pt} (SAM2 fixtures)`;

async function encode(
  cfg: ImageEncoderConfig,
  ws: WeightStore,
  attention: 'matmul' | 'mha',
  image: Float32Array,
): Promise<Record<string, ort.Tensor>> {
  const bytes = buildImageEncoderGraph(cfg, ws, { attention });
  // every block must take a fast form in 'matmul' graphs (a fallback would emit the reference MultiHeadAttention op)
  const hasMha = Buffer.from(bytes).includes('MultiHeadAttention');
  assert.equal(hasMha, attention === 'mha', `${attention} graph ${hasMha ? 'has' : 'lacks'} MultiHeadAttention nodes`);
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
  const S = cfg.imageSize;
  const out = await s.run({ [IMAGE_ENCODER_IO.image]: new ort.Tensor('float32', image, [1, 3, S, S]) });
  await s.release();
  return out;
}

function seededImage(n: number): Float32Array {
  let x = 12345;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    a[i] = (x / 2 ** 32) * 4 - 2;
  }
  return a;
}

const variants: { name: string; edit: (c: ImageEncoderConfig) => ImageEncoderConfig }[] = [
  { name: '1024 px', edit: (c) => ({ ...c, imageSize: 1024 }) },
  {
    name: 'stage-2 windows that need padding (window 6), also on a q-pooled block',
    edit: (c) => ({ ...c, trunk: { ...c.trunk, windowSpec: [c.trunk.windowSpec[0]!, 6, 14, 7] } }),
  },
  { name: 'a q-pooled global block in window-major order', edit: (c) => ({ ...c, trunk: { ...c.trunk, globalAttBlocks: [3, 5, 7, 9] } }) },
];

for (const v of variants) {
  test(`Hiera fast blocks equal the reference blocks: ${v.name}`, { skip }, async (t) => {
    const cfg = v.edit(imageEncoderConfigFromYaml(readFileSync(yaml, 'utf8')));
    const ws = new WeightStore((await loadCheckpoint(ckpt)).tensors, ckpt);
    const image = seededImage(3 * cfg.imageSize * cfg.imageSize);
    const fast = await encode(cfg, ws, 'matmul', image);
    const ref = await encode(cfg, ws, 'mha', image);
    const io = IMAGE_ENCODER_IO;
    for (const name of [io.visionFeatures, io.highRes0, io.highRes1]) {
      const a = fast[name]!.data as Float32Array;
      const b = ref[name]!.data as Float32Array;
      assert.deepEqual(fast[name]!.dims, ref[name]!.dims, `${name} shape`);
      let err = 0;
      let max = 0;
      for (let i = 0; i < b.length; i++) {
        err = Math.max(err, Math.abs(a[i]! - b[i]!));
        max = Math.max(max, Math.abs(b[i]!));
      }
      t.diagnostic(`${name}: max|fast - reference| ${err.toExponential(2)}, max|ref| ${max.toFixed(3)}`);
      assert.ok(Number.isFinite(err) && err <= 1e-4 * max + 1e-5, `${name}: max|fast - reference| ${err} (max|ref| ${max})`);
    }
  });
}
