import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openNpz, type NpzFile } from '../../src/io/npzFile.js';
import { loadCheckpoint } from '../../src/models/checkpoint/index.js';
import { WeightStore } from '../../src/models/onnx/weightStore.js';
import { imageEncoderConfigFromYaml, type ImageEncoderConfig } from '../../src/models/sam2/graphs/hieraConfig.js';
import { hieraPlan } from '../../src/models/sam2/graphs/hieraTrunk.js';
import { buildImageEncoderGraph, IMAGE_ENCODER_IO } from '../../src/models/sam2/graphs/imageEncoder.js';
import { ImageEncoderRunner } from '../../src/engine/sam2/imageEncoderRunner.js';
import type { Float32Output } from '../../src/engine/ortSession.js';
import type { AttentionImpl } from '../../src/models/sam2/graphs/hieraAttention.js';
import { fixtureDir, moduleFixtureCases, type FixtureCase } from '../helpers/sam2Fixtures.js';

/**
 * Image encoder parity (SAM2Base.forward_image: Hiera trunk, FPN neck, scalp, conv_s0/conv_s1) on
 * every fixture case with module tensors. The graph is built with debug outputs so a failure names
 * the stage; the input frame is rebuilt from the inputs npz (frames_lut[c, u8]) as the README says.
 */
const cases = moduleFixtureCases();
const TAGS = ['trunk', 'image_encoder', 'conv_s0', 'conv_s1'] as const;

test('image encoder parity fixtures', { skip: cases.length === 0 && `needs ${fixtureDir()} (SAM2 fixtures)` }, () => {
  assert.ok(cases.length > 0);
});

test('Hiera block plan follows upstream (window lags a stage, q-pool on stage starts)', () => {
  const plan = hieraPlan({
    embedDim: 96,
    numHeads: 1,
    stages: [1, 2, 7, 2],
    qPool: 3,
    qStride: [2, 2],
    dimMul: 2,
    headMul: 2,
    windowPosEmbedBkgSpatialSize: [7, 7],
    windowSpec: [8, 4, 14, 7],
    globalAttBlocks: [5, 7, 9],
  });
  assert.deepEqual(
    plan.blocks.map((b) => b.windowSize),
    [8, 8, 4, 4, 14, 0, 14, 0, 14, 0, 14, 7],
  );
  assert.deepEqual(
    plan.blocks.map((b) => b.numHeads),
    [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 8, 8],
  );
  assert.deepEqual(
    plan.blocks.flatMap((b, i) => (b.qStride ? [i] : [])),
    [1, 3, 10],
  );
  assert.deepEqual(plan.stageEnds, [0, 2, 9, 11]);
  assert.deepEqual(plan.stageDims, [96, 192, 384, 768]);
});

/** Which graph output holds a recorded module tensor (by module path and return position). */
function graphOutputFor(module: string, position: string): string | undefined {
  const io = IMAGE_ENCODER_IO;
  if (module === 'image_encoder.trunk') {
    const m = /^\[(\d+)\]$/.exec(position);
    return m ? io.trunk(Number(m[1])) : undefined;
  }
  if (module === 'image_encoder') {
    if (position === 'vision_features') return io.visionFeatures;
    const m = /^(backbone_fpn|vision_pos_enc)\[(\d+)\]$/.exec(position);
    if (!m) return undefined;
    return m[1] === 'backbone_fpn' ? io.fpn(Number(m[2])) : io.fpnPos(Number(m[2]));
  }
  if (module === 'sam_mask_decoder.conv_s0') return io.highRes0;
  if (module === 'sam_mask_decoder.conv_s1') return io.highRes1;
  return undefined;
}

/** Frame index of module call `call`: c0 = the first prompted frame, c1 = the first frame tracked after it. */
function frameOfCall(c: FixtureCase, call: number): number {
  const steps: any[] = c.manifest.steps;
  const addIdx = steps.findIndex((s) => String(s.op).startsWith('add_new'));
  assert.ok(addIdx >= 0, 'the case has a prompt step');
  const prompted = Number(steps[addIdx].args.frame_idx);
  if (call === 0) return prompted;
  assert.equal(call, 1, `no rule for image encoder call c${call}`);
  const prop = steps.slice(addIdx).find((s) => s.op === 'propagate_in_video');
  const frames: number[] = prop?.frames ?? [];
  const next = frames.find((f) => f !== prompted);
  assert.ok(next !== undefined, 'the case propagates past the prompted frame');
  return next;
}

/** frames[f] = frames_lut[c, u8[f]] at the model size (resized_u8 for non-square / non-S inputs). */
function modelInputFrame(inputs: NpzFile, frame: number, S: number): Float32Array {
  const u8 = inputs.has('resized_u8') ? inputs.get('resized_u8') : inputs.get('frames_u8');
  assert.deepEqual(u8.shape.slice(1), [S, S], `the inputs npz has ${S}x${S} frames (resized_u8 or frames_u8)`);
  const lut = inputs.get('frames_lut').data as Float32Array;
  const px = u8.data as Uint8Array;
  const out = new Float32Array(3 * S * S);
  const off = frame * S * S;
  for (let ch = 0; ch < 3; ch++) for (let i = 0; i < S * S; i++) out[ch * S * S + i] = lut[ch * 256 + px[off + i]!]!;
  if (
    inputs.has('frames_mid') &&
    inputs.has('frames_mid_idx') &&
    Number((inputs.get('frames_mid_idx').data as BigInt64Array)[0]) === frame
  ) {
    assert.deepEqual(out, inputs.get('frames_mid').data, 'rebuilt frame equals frames_mid bit-exactly');
  }
  return out;
}

interface Model {
  cfg: ImageEncoderConfig;
  runner: ImageEncoderRunner;
  unused: string[];
}
const models = new Map<string, Promise<Model>>();

/** One debug graph per (config, checkpoint, attention form), shared by every case that uses it. */
function loadModel(c: FixtureCase, attention: AttentionImpl): Promise<Model> {
  const key = `${c.configPath}|${c.checkpointPath}|${attention}`;
  let p = models.get(key);
  if (!p) {
    p = (async () => {
      const cfg = imageEncoderConfigFromYaml(readFileSync(c.configPath, 'utf8'));
      const ws = new WeightStore((await loadCheckpoint(c.checkpointPath)).tensors, c.checkpointPath);
      const runner = await ImageEncoderRunner.create(buildImageEncoderGraph(cfg, ws, { debug: true, attention }), { threads: 2 });
      return { cfg, runner, unused: ws.unusedKeys('image_encoder.') };
    })();
    models.set(key, p);
  }
  return p;
}

const runs = new Map<string, Promise<Record<string, Float32Output>>>();
function encodeCall(c: FixtureCase, call: number, attention: AttentionImpl): Promise<Record<string, Float32Output>> {
  const key = `${c.id}|${call}|${attention}`;
  let p = runs.get(key);
  if (!p) {
    p = (async () => {
      const m = await loadModel(c, attention);
      const S = m.cfg.imageSize;
      const stored = `mod_trunk_c${call}_in_0`;
      const fx = openNpz(c.npzPath);
      const image =
        c.manifest.module_tensors[stored]?.stored !== false && fx.has(stored)
          ? (fx.get(stored).data as Float32Array)
          : modelInputFrame(openNpz(c.inputPath), frameOfCall(c, call), S);
      return m.runner.run(image);
    })();
    runs.set(key, p);
  }
  return p;
}

type Entry = [string, any];

/** Half a float16 ulp at |v| (the largest rounding error of storing v as float16). */
function halfUlp16(v: number): number {
  const a = Math.abs(v);
  return a < 2 ** -14 ? 2 ** -25 : 2 ** (Math.floor(Math.log2(a)) - 11);
}

/** Compare every recorded tensor in `entries` with the matching graph output (README tolerances). */
async function checkTensors(t: { diagnostic(m: string): void }, c: FixtureCase, entries: Entry[], attention: AttentionImpl): Promise<void> {
  const m = await loadModel(c, attention);
  assert.deepEqual(m.unused, [], 'every image_encoder.* checkpoint tensor is used');
  const fx = openNpz(c.npzPath);
  for (const [key, e] of entries) {
    const name = graphOutputFor(e.module, e.position);
    assert.ok(name, `${key}: no graph output for ${e.module} ${e.position}`);
    const got = (await encodeCall(c, e.call, attention))[name]!;
    assert.ok(got, `${key}: graph has no output ${name}`);
    const ref = fx.get(key);
    assert.deepEqual(got.dims, ref.shape, `${key} shape`);
    const r = ref.data as Float32Array;
    const half = e.stored_dtype === 'float16';
    let maxErr = 0;
    let maxRef = 0;
    let beyondHalf = 0; // error left after the reference's own fp16 rounding (informative)
    for (let i = 0; i < r.length; i++) {
      const d = Math.abs(got.data[i]! - r[i]!);
      if (!(d <= maxErr)) maxErr = d; // NaN fails below
      maxRef = Math.max(maxRef, Math.abs(r[i]!));
      if (half) beyondHalf = Math.max(beyondHalf, d - halfUlp16(r[i]!));
    }
    const bound = half ? 2e-3 * maxRef + 1e-3 : 1e-4 * maxRef + 1e-5;
    t.diagnostic(
      `${attention} ${key} (${e.position || e.module}, ${half ? 'fp16' : 'fp32'}): max|err| ${maxErr.toExponential(2)}` +
        `${half ? ` (${Math.max(0, beyondHalf).toExponential(2)} beyond fp16 rounding)` : ''}, max|ref| ${maxRef.toFixed(3)}, bound ${bound.toExponential(2)}`,
    );
    assert.ok(maxErr <= bound, `${key} (${e.module} ${e.position}, ${attention} attention) max|err| ${maxErr} > ${bound}`);
  }
}

for (const c of cases) {
  const entries: Entry[] = Object.entries<any>(c.manifest.module_tensors).filter(
    ([k, e]) => e.direction === 'out' && e.stored !== false && TAGS.some((t) => k.startsWith(`mod_${t}_c`)),
  );
  for (const tag of TAGS) {
    const mine = entries.filter(([k]) => k.startsWith(`mod_${tag}_c`));
    if (mine.length > 0) test(`${c.id}: image encoder ${tag}`, (t) => checkTensors(t, c, mine, 'matmul'));
  }
  // the fused contrib-op attention must give the same features
  if (entries.length > 0) test(`${c.id}: image encoder with MultiHeadAttention op`, (t) => checkTensors(t, c, entries, 'mha'));
}
