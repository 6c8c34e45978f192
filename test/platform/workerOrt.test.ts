import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { setOrtRunObserver } from '../../src/engine/ortRunObserver.js';
import { OrtSession } from '../../src/engine/ortSession.js';
import { GraphBuilder } from '../../src/models/onnx/graphBuilder.js';
import { getPlatform, setPlatform } from '../../src/platform/platform.js';
import { WorkerInferenceSession, useWorkerOrt, workerOrtRuntime } from '../../src/platform/nodeWorkerOrt.js';
import { seededFloats } from '../helpers/seededFloats.js';

const rand = seededFloats;

/** x [2,64] → MatMul [64,48] → GELU → Softmax: outputs y and the pre-softmax h (a dynamic batch dim). */
function smallGraph(): Uint8Array {
  const g = new GraphBuilder('workerOrt');
  const x = g.input('x', 'float', ['n', 64]);
  const h = g.gelu(g.matmul(x, g.initializer(rand(64 * 48, 3), [64, 48])));
  g.output(g.softmax(h), 'y', 'float', ['n', 48]);
  g.output(h, 'h', 'float', ['n', 48]);
  return g.toBytes();
}

const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout').length;

describe('worker-thread ORT runtime', () => {
  it('gives bit-identical outputs to the in-process runtime through OrtSession, and the run observer sees its runs', async () => {
    const bytes = smallGraph();
    const node = getPlatform();
    const feeds = { x: { data: rand(2 * 64, 9).subarray(0), dims: [2, 64] } };
    const opts = { threads: 2, allowSpinning: false, module: 'probe' } as const;
    const local = await OrtSession.create(bytes, opts);
    const want = await local.runFloat32(feeds);
    const wantOne = await local.runFloat32(feeds, ['h']);
    await local.release();
    const seen: string[] = [];
    setOrtRunObserver((m) => seen.push(m));
    setPlatform({ ...node, ort: workerOrtRuntime });
    try {
      const remote = await OrtSession.create(bytes, opts);
      assert.ok(remote.session instanceof WorkerInferenceSession);
      assert.deepEqual(remote.inputs, local.inputs, 'the same input metadata');
      assert.deepEqual(remote.outputs, local.outputs);
      const got = await remote.runFloat32(feeds);
      const one = await remote.runFloat32(feeds, ['h']);
      await remote.release();
      assert.deepEqual(Object.keys(got).sort(), ['h', 'y']);
      for (const k of ['h', 'y']) {
        assert.deepEqual(got[k]!.dims, want[k]!.dims);
        assert.ok(got[k]!.data instanceof Float32Array);
        assert.deepEqual(new Uint8Array(got[k]!.data.buffer), new Uint8Array(want[k]!.data.buffer), `${k} is bit-identical`);
      }
      // Output selection behaves as in-process (onnxruntime-node 1.22 keys a one-output fetch oddly: parity, not a spec).
      assert.deepEqual(Object.keys(one), Object.keys(wantOne));
      for (const k of Object.keys(one)) assert.deepEqual(one[k]!.data, wantOne[k]!.data);
      assert.equal(feeds.x.data.length, 128, "the caller's feed array is not detached");
      assert.deepEqual(seen, ['probe', 'probe']);
    } finally {
      setOrtRunObserver(undefined);
      setPlatform(node);
    }
  });

  it("an invalid feed gives ORT's own error; release ends the worker and leaves no handle", async () => {
    const bytes = smallGraph();
    const before = handles();
    const s = await WorkerInferenceSession.create(bytes, { intraOpNumThreads: 1 });
    assert.deepEqual([...s.inputNames], ['x']);
    const local = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const bad = { x: new ort.Tensor('float32', new Float32Array(2 * 63), [2, 63]) };
    const want = await local.run(bad).then(
      () => assert.fail('ORT accepted a wrong shape'),
      (e: Error) => e.message,
    );
    await local.release();
    await assert.rejects(s.run(bad), (e: Error) => e.message === want);
    // The session still works after an error.
    const ok = await s.run({ x: new ort.Tensor('float32', rand(64, 1), [1, 64]) });
    assert.ok(ok.y instanceof ort.Tensor && ok.y.dims[1] === 48);
    await s.release();
    await assert.rejects(s.run({ x: new ort.Tensor('float32', rand(64, 1), [1, 64]) }), /released|exited/);
    assert.equal(handles(), before, 'no worker handle left after release');
  });

  it('a model that is not ONNX is refused with the ORT message, and no worker is left', async () => {
    const before = handles();
    await assert.rejects(WorkerInferenceSession.create(new Uint8Array([1, 2, 3, 4])), /protobuf|parse|model/i);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(handles(), before);
  });

  it('useWorkerOrt swaps onnxruntime-node only, once; an injected runtime is kept', () => {
    const node = getPlatform();
    try {
      useWorkerOrt();
      const swapped = getPlatform();
      assert.equal(swapped.ort, workerOrtRuntime);
      useWorkerOrt();
      assert.equal(getPlatform(), swapped);
      const injected = { ...node, ort: { ...node.ort } };
      setPlatform(injected);
      useWorkerOrt();
      assert.equal(getPlatform(), injected);
    } finally {
      setPlatform(node);
    }
  });
});
