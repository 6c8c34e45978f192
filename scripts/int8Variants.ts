/**
 * `node --import tsx scripts/int8Variants.ts [--runs 9] [--threads 2]`
 *
 * Fast-mode graph variants of the tiny512 fixture model's image encoder, timed interleaved in one
 * process on the fixture's middle slice: fp32, int8 with every linear layer quantised (the first
 * two passes), int8 with the last trunk block + neck + conv_s0/s1 in fp32 (the current recipe,
 * compile.ts SAM2_INT8_RECIPE), and that plus the GEMMs with fewer than 128 input or output
 * channels left in fp32 (where int8 did not pay in scripts/int8GemmBench.ts). Reports wall ms and
 * process CPU ms per frame (idle spinning off; CPU time is what a shared machine can still
 * compare) and the output error against fp32.
 */
import * as ort from 'onnxruntime-node';
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import { quantizeOnnxBytes, type QuantizeOptions } from '../src/models/onnx/quantize.js';
import { loadSam2Compiled } from '../src/models/sam2/graphCache.js';
import { IMAGE_ENCODER_IO } from '../src/models/sam2/graphs/imageEncoder.js';
import { framesFromU8 } from '../src/predictor/sam2/frameSource.js';
import { fixtureFiles, loadVolume } from './benchSam2.js';

setPlatform(nodePlatform);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1]! : d);
  const runs = Number(arg('--runs', '9'));
  const threads = Number(arg('--threads', '2'));
  const files = fixtureFiles();
  const { model } = await loadSam2Compiled({ checkpointPath: files.checkpoint, configPath: files.config }, {});
  const fp = model.graphs.imageEncoder;
  const last = model.configs.imageEncoder.trunk.stages.reduce((a, b) => a + b, 0) - 1;
  const tail = (name: string) => [`trunk/blocks.${last}/`, 'neck/', 'conv_s0/', 'conv_s1/'].some((p) => name.startsWith(p));
  const variants: [string, Uint8Array][] = [['fp32', fp]];
  const add = (name: string, skip?: QuantizeOptions['skip']) => {
    const r = quantizeOnnxBytes(fp, { skip });
    variants.push([`${name} (${r.report.quantized} int8 GEMMs)`, r.bytes]);
  };
  add('int8, all linear layers');
  add('int8, last block + neck fp32', (n) => tail(n.name ?? ''));
  add('int8, that + narrow GEMMs fp32', (n, k, nn) => tail(n.name ?? '') || k < 128 || nn < 128);

  const vol = loadVolume(files.input);
  const S = model.configs.predictor.imageSize;
  const img = await framesFromU8(vol.u8, vol.n, vol.h, vol.w, S).frame(vol.n >> 1);
  const feed = { [IMAGE_ENCODER_IO.image]: new ort.Tensor('float32', img, [1, 3, S, S]) };
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const sessions = [];
  for (const [, bytes] of variants) sessions.push(await ort.InferenceSession.create(bytes, opts));
  const wall = variants.map(() => [] as number[]);
  const cpu = variants.map(() => [] as number[]);
  const outs: Float32Array[] = [];
  for (let r = -1; r < runs; r++) {
    for (const [i, s] of sessions.entries()) {
      const t = performance.now();
      const c = process.cpuUsage();
      const o = await s.run(feed);
      const dc = process.cpuUsage(c);
      if (r < 0) outs[i] = o[IMAGE_ENCODER_IO.visionFeatures]!.data as Float32Array;
      else {
        wall[i]!.push(performance.now() - t);
        cpu[i]!.push((dc.user + dc.system) / 1000);
      }
    }
  }
  console.log(
    `tiny512 image encoder, ${threads} threads, median of ${runs} interleaved runs (load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
  );
  for (const [i, [name]] of variants.entries()) {
    let e = 0;
    let n = 0;
    for (let k = 0; k < outs[0]!.length; k++) {
      e += (outs[i]![k]! - outs[0]![k]!) ** 2;
      n += outs[0]![k]! ** 2;
    }
    console.log(
      `  ${name.padEnd(48)} wall ${median(wall[i]!).toFixed(0).padStart(6)} ms (${(median(wall[0]!) / median(wall[i]!)).toFixed(2)}× fp32)` +
        `  CPU ${median(cpu[i]!).toFixed(0).padStart(6)} ms (${(median(cpu[0]!) / median(cpu[i]!)).toFixed(2)}× fp32)  vision features rel. RMS error ${Math.sqrt(e / n).toExponential(2)}`,
    );
  }
  for (const s of sessions) await s.release();
}

void main();
