import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { OrtSession, type Float32Output } from '../../src/engine/ortSession.js';
import { loadSam2Compiled } from '../../src/models/sam2/graphCache.js';
import { nodePlatform } from '../../src/platform/node.js';
import { setPlatform } from '../../src/platform/platform.js';
import { createWebPlatform } from '../../src/platform/web.js';
import { memoryBlobCache } from '../../src/platform/webBlobCache.js';

/**
 * The ORT runtime is injected: the same core OrtSession runs our compiled SAM2 image encoder on
 * onnxruntime-web (WebAssembly, through the web platform) and on onnxruntime-node, with the same
 * numbers (the graphs use com.microsoft contrib ops, which both runtimes must have).
 */
const DIR = resolve('../shared/fixtures/sam2');

test('web platform + onnxruntime-web run the compiled micro512 image encoder like onnxruntime-node', {
  skip: !existsSync(`${DIR}/micro512.pt`) && 'needs ../shared/fixtures/sam2 (micro512)',
}, async () => {
  const { model } = await loadSam2Compiled(
    { checkpointPath: `${DIR}/micro512.pt`, configPath: `${DIR}/micro512.yaml` },
    { cache: memoryBlobCache() },
  );
  const size = model.configs.predictor.imageSize;
  const image = Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 1e-3) * 2);
  const run = async (graph: string | Uint8Array): Promise<Record<string, Float32Output>> => {
    const s = await OrtSession.create(graph, { threads: 1 });
    try {
      return await s.runFloat32({ [s.inputNames[0]!]: { data: image, dims: [1, 3, size, size] } });
    } finally {
      await s.release();
    }
  };
  const inNode = await run(model.graphs.imageEncoder);
  const web = createWebPlatform();
  web.ort.env.wasm.numThreads = 1;
  // On the web the graph comes in as a File the user picked (or downloaded), opened by name.
  web.addFile('image_encoder.onnx', new Blob([model.graphs.imageEncoder]));
  setPlatform(web);
  let inWeb: Record<string, Float32Output>;
  try {
    inWeb = await run('image_encoder.onnx');
  } finally {
    setPlatform(nodePlatform);
  }
  assert.deepEqual(Object.keys(inWeb).sort(), Object.keys(inNode).sort());
  for (const [name, a] of Object.entries(inNode)) {
    const b = inWeb[name]!;
    assert.deepEqual(b.dims, a.dims, name);
    let maxErr = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.data.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(a.data[i]! - b.data[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(a.data[i]!));
    }
    assert.ok(maxAbs > 0.1, `${name}: a real signal`);
    assert.ok(
      maxErr <= 1e-4 * Math.max(1, maxAbs),
      `${name}: max |web − node| ${maxErr.toExponential(2)} (max |node| ${maxAbs.toFixed(2)})`,
    );
  }
});
