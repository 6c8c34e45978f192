import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/models/onnx/graphBuilder.js';
import { WeightStore } from '../../src/models/onnx/weightStore.js';
import { linear, layerNorm, mlp } from '../../src/models/onnx/torchLayers.js';
import type { NdArray } from '../../src/io/ndarray.js';
import { seededFloats } from '../helpers/seededFloats.js';

const rand = seededFloats;

test('graph builder emits a valid ONNX model whose Linear/LayerNorm/GELU match a JS reference', async () => {
  const [inp, hid, out] = [5, 7, 3];
  const t = new Map<string, NdArray>([
    ['l.layers.0.weight', { dtype: 'float32', shape: [hid, inp], data: rand(hid * inp, 1) }],
    ['l.layers.0.bias', { dtype: 'float32', shape: [hid], data: rand(hid, 2) }],
    ['l.layers.1.weight', { dtype: 'float32', shape: [out, hid], data: rand(out * hid, 3) }],
    ['l.layers.1.bias', { dtype: 'float32', shape: [out], data: rand(out, 4) }],
    ['n.weight', { dtype: 'float32', shape: [inp], data: rand(inp, 5) }],
    ['n.bias', { dtype: 'float32', shape: [inp], data: rand(inp, 6) }],
    ['unused.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) }],
  ]);
  const ws = new WeightStore(t);
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float', [2, inp]);
  const n = layerNorm(g, ws, 'n', x);
  const y = mlp(g, ws, 'l', n, 2, { act: 'gelu' });
  g.output(y, 'y', 'float', [2, out]);
  g.output(linear(g, ws, 'l.layers.0', x), 'z', 'float', [2, hid]);
  const sess = await ort.InferenceSession.create(g.toBytes());
  const xs = rand(2 * inp, 7);
  const r = await sess.run({ x: new ort.Tensor('float32', xs, [2, inp]) });
  const got = r.y!.data as Float32Array;
  // JS reference
  const get = (k: string) => t.get(k)!.data as Float32Array;
  const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
  for (let row = 0; row < 2; row++) {
    const v = Array.from(xs.slice(row * inp, row * inp + inp));
    const mean = v.reduce((a, b) => a + b) / inp;
    const vr = v.reduce((a, b) => a + (b - mean) ** 2, 0) / inp;
    const nn = v.map((e, i) => ((e - mean) / Math.sqrt(vr + 1e-5)) * get('n.weight')[i]! + get('n.bias')[i]!);
    const h = Array.from({ length: hid }, (_, o) =>
      gelu(nn.reduce((a, e, i) => a + e * get('l.layers.0.weight')[o * inp + i]!, get('l.layers.0.bias')[o]!)),
    );
    for (let o = 0; o < out; o++) {
      const ref = h.reduce((a, e, i) => a + e * get('l.layers.1.weight')[o * hid + i]!, get('l.layers.1.bias')[o]!);
      assert.ok(Math.abs(ref - got[row * out + o]!) < 1e-5, `y[${row},${o}] ${got[row * out + o]} vs ${ref}`);
    }
  }
  assert.deepEqual(ws.unusedKeys(), ['unused.weight']);
  assert.throws(() => ws.get('missing.weight'), /has no tensor 'missing.weight'/);
});

// Abramowitz–Stegun 7.1.26 is too coarse for 1e-5; use a series/continued fraction.
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  if (a < 3) {
    let sum = a,
      term = a;
    for (let n = 1; n < 60; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI);
  }
  return s * (1 - Math.exp(-a * a) / (a * Math.sqrt(Math.PI)));
}
