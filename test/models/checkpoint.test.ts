import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { MedsamError } from '../../src/common/errors.js';
import { buildZip } from '../../src/io/zip.js';
import type { NdArray } from '../../src/io/ndarray.js';
import { checkKeys, encodeSafetensors, loadCheckpoint, parseCheckpoint, totalElements } from '../../src/models/checkpoint/index.js';

const FIX = process.env.MEDSAM2_SAM2_FIXTURES ?? '../shared/fixtures/sam2';
const MICRO = join(FIX, 'micro512.pt');
const TINY = join(FIX, 'tiny512_fp16.pt');
const needs = (p: string) => !existsSync(p) && `needs ${p}`;
const BUFFER = 'sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix';
const isErr = (re: RegExp) => (e: unknown) => e instanceof MedsamError && re.test(e.message) && !e.message.includes('\n');

function manifestSha(model: string): string {
  const m = JSON.parse(readFileSync(join(FIX, `${model}_box_bidir.json`), 'utf8'));
  return m.checkpoint_sha256;
}

// ---- a tiny pickle writer, so crafted checkpoints exercise paths the fixtures do not ----
class Pickle {
  private b: number[] = [0x80, 2];
  op(...bytes: number[]): this {
    this.b.push(...bytes);
    return this;
  }
  str(s: string): this {
    const u = new TextEncoder().encode(s);
    return this.op(0x8c, u.length, ...u);
  }
  int(n: number): this {
    const v = new DataView(new ArrayBuffer(4));
    v.setInt32(0, n, true);
    return this.op(0x4a, ...new Uint8Array(v.buffer));
  }
  global(m: string, n: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${m}\n${n}\n`));
  }
  mark(): this {
    return this.op(0x28);
  }
  tuple(): this {
    return this.op(0x74);
  }
  ints(xs: number[]): this {
    this.mark();
    xs.forEach((x) => this.int(x));
    return this.tuple();
  }
  /** _rebuild_tensor_v2(storage(type, key, numel), offset, size, stride, False, OrderedDict()) */
  tensor(type: string, key: string, numel: number, offset: number, size: number[], stride: number[]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', type).str(key).str('cpu').int(numel).tuple().op(0x51);
    this.int(offset).ints(size).ints(stride).op(0x89).global('collections', 'OrderedDict').op(0x29, 0x52);
    return this.tuple().op(0x52);
  }
  bytes(): Uint8Array {
    return Uint8Array.from([...this.b, 0x2e]);
  }
}

function ptZip(pkl: Uint8Array, records: Record<string, Uint8Array>, byteorder = 'little'): Uint8Array {
  const m: Record<string, Uint8Array> = { 'archive/data.pkl': pkl, 'archive/byteorder': new TextEncoder().encode(byteorder) };
  for (const [k, v] of Object.entries(records)) m[`archive/data/${k}`] = v;
  return buildZip(m, false);
}

function assertStats(t: NdArray, sum: number, absSum: number, last: number): void {
  assert.ok(t.data instanceof Float32Array);
  let s = 0;
  let a = 0;
  for (const x of t.data) {
    s += x;
    a += Math.abs(x);
  }
  assert.ok(Math.abs(s - sum) <= 1e-9 * absSum && Math.abs(a - absSum) <= 1e-9 * absSum, `sum ${s} / ${a} vs ${sum} / ${absSum}`);
  assert.equal(t.data[t.data.length - 1], last);
}

const f32bytes = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);

test('micro512.pt: 471 float32 tensors, sha256, parameter count and shapes match the config', { skip: needs(MICRO) }, async () => {
  const ck = await loadCheckpoint(MICRO);
  assert.equal(ck.format, 'pt');
  assert.equal(ck.tensors.size, 471);
  assert.equal(ck.sha256, manifestSha('micro512'));
  assert.equal(ck.size, 8006380);
  assert.ok([...ck.sourceDtypes.values()].every((d) => d === 'float32'));
  assert.ok(ck.tensors.has(BUFFER));
  assert.equal(
    totalElements(ck.tensors, (k) => k !== BUFFER),
    1957010,
  );
  const y = (loadYaml(readFileSync(join(FIX, 'micro512.yaml'), 'utf8')) as any).model;
  const e = y.image_encoder.trunk.embed_dim;
  const dm = y.image_encoder.neck.d_model;
  const mem = y.memory_encoder.out_dim;
  const shape = (k: string) => ck.tensors.get(k)?.shape;
  assert.deepEqual(shape('image_encoder.trunk.patch_embed.proj.weight'), [e, 3, 7, 7]);
  assert.deepEqual(shape('image_encoder.trunk.pos_embed'), [1, e, ...y.image_encoder.trunk.window_pos_embed_bkg_spatial_size]);
  assert.deepEqual(shape('image_encoder.neck.convs.0.conv.weight'), [dm, y.image_encoder.neck.backbone_channel_list[0], 1, 1]);
  assert.deepEqual(shape('maskmem_tpos_enc'), [y.num_maskmem, 1, 1, mem]);
  const L = y.memory_attention.num_layers;
  assert.deepEqual(shape(`memory_attention.layers.${L - 1}.linear1.weight`), [y.memory_attention.layer.dim_feedforward, dm]);
  assert.equal(shape(`memory_attention.layers.${L}.linear1.weight`), undefined);
  assert.deepEqual(shape('memory_attention.layers.0.cross_attn_image.k_proj.weight'), [
    dm,
    y.memory_attention.layer.cross_attention.kv_in_dim,
  ]);
  assert.deepEqual(shape(BUFFER), [2, dm / 2]);
  // Sums and last elements computed independently (Python pickle + numpy.as_strided on the raw storages).
  assertStats(ck.tensors.get('maskmem_tpos_enc')!, -4.572569694835693, 42.57355694798753, 0.4438028335571289);
  assertStats(ck.tensors.get('image_encoder.neck.convs.0.conv.weight')!, 6.615669882312432, 584.1131139515801, -0.009829895570874214);
  assertStats(ck.tensors.get(BUFFER)!, -0.3952784133143723, 51.32264911243692, 0.2907005846500397);
  checkKeys(ck.tensors, [...ck.tensors.keys()]);
});

test('tiny512_fp16.pt: float16 storages upcast exactly to float32', { skip: needs(TINY) }, async () => {
  const ck = await loadCheckpoint(TINY);
  assert.equal(ck.tensors.size, 471);
  assert.equal(ck.sha256, manifestSha('tiny512'));
  assert.ok([...ck.sourceDtypes.values()].every((d) => d === 'float16'));
  assert.equal(
    totalElements(ck.tensors, (k) => k !== BUFFER),
    38962498,
  );
  assert.deepEqual(ck.tensors.get('image_encoder.trunk.patch_embed.proj.weight')!.shape, [96, 3, 7, 7]);
  assert.deepEqual(ck.tensors.get('maskmem_tpos_enc')!.shape, [7, 1, 1, 64]);
  assert.deepEqual(ck.tensors.get(BUFFER)!.shape, [2, 128]);
  // Every value is a float16 (exactly representable, |x| ≤ 65504), held in float32.
  const w = ck.tensors.get('image_encoder.neck.convs.0.conv.weight')!;
  assert.equal(w.dtype, 'float16');
  assertStats(w, 33.82416242361069, 5646.953067004681, 0.024169921875);
  assertStats(ck.tensors.get('no_obj_ptr')!, 13.093801498413086, 105.08020210266113, -0.449462890625);
  assert.ok(w.data instanceof Float32Array);
  const h = new Float32Array(1);
  for (let i = 0; i < w.data.length; i += 97) {
    const x = w.data[i] as number;
    h[0] = x;
    const bits = new Uint32Array(h.buffer)[0];
    assert.equal(bits & 0x1fff, 0, `element ${i} (${x}) is not a float16 value`);
  }
});

test('non-contiguous views, offsets, shared storages, dtypes, big-endian and the bare-dict layout', async () => {
  // storage 0 = [0..5]; w is its transpose view (2,3) stride (1,2); b is an offset, strided view.
  const pkl = new Pickle()
    .op(0x7d) // {
    .str('w')
    .tensor('FloatStorage', '0', 6, 0, [2, 3], [1, 2])
    .op(0x73)
    .str('b')
    .tensor('FloatStorage', '0', 6, 1, [2], [2])
    .op(0x73)
    .str('bf')
    .tensor('BFloat16Storage', '1', 2, 0, [2], [1])
    .op(0x73)
    .str('i')
    .tensor('LongStorage', '2', 1, 0, [], [])
    .op(0x73)
    .str('m')
    .tensor('BoolStorage', '3', 2, 0, [2], [1])
    .op(0x73)
    .bytes();
  const recs = {
    0: f32bytes([0, 1, 2, 3, 4, 5]),
    1: Uint8Array.from([0x80, 0x3f, 0x40, 0xc0]), // bf16 1, -3
    2: new Uint8Array(BigInt64Array.from([-(2n ** 40n)]).buffer),
    3: Uint8Array.from([1, 0]),
  };
  const ck = await parseCheckpoint(ptZip(pkl, recs), 'crafted.pt');
  assert.deepEqual([...(ck.tensors.get('w')!.data as Float32Array)], [0, 2, 4, 1, 3, 5]);
  assert.deepEqual([...(ck.tensors.get('b')!.data as Float32Array)], [1, 3]);
  assert.deepEqual([...(ck.tensors.get('bf')!.data as Float32Array)], [1, -3]);
  assert.equal(ck.tensors.get('bf')!.dtype, 'bfloat16');
  assert.deepEqual(ck.tensors.get('i')!.shape, []);
  assert.equal((ck.tensors.get('i')!.data as BigInt64Array)[0], -(2n ** 40n));
  assert.equal(ck.tensors.get('m')!.dtype, 'bool');
  // The same pickle with big-endian storages.
  const be = (b: Uint8Array, size: number) => {
    const c = b.slice();
    for (let i = 0; i < c.length; i += size) c.subarray(i, i + size).reverse();
    return c;
  };
  const ckBe = await parseCheckpoint(ptZip(pkl, { 0: be(recs[0], 4), 1: be(recs[1], 2), 2: be(recs[2], 8), 3: recs[3] }, 'big'), 'be.pt');
  assert.deepEqual([...(ckBe.tensors.get('w')!.data as Float32Array)], [0, 2, 4, 1, 3, 5]);
  assert.deepEqual([...(ckBe.tensors.get('bf')!.data as Float32Array)], [1, -3]);
  assert.equal((ckBe.tensors.get('i')!.data as BigInt64Array)[0], -(2n ** 40n));
});

test('a {"model": ..., "optimizer": ...} checkpoint yields only the model tensors', async () => {
  const pkl = new Pickle()
    .op(0x7d)
    .str('epoch')
    .int(3)
    .op(0x73)
    .str('model')
    .global('collections', 'OrderedDict')
    .op(0x29, 0x52)
    .str('a')
    .tensor('FloatStorage', '0', 2, 0, [2], [1])
    .op(0x73)
    .op(0x73)
    .str('optimizer')
    .op(0x7d)
    .str('s')
    .tensor('FloatStorage', '1', 1, 0, [1], [1])
    .op(0x73)
    .op(0x73)
    .bytes();
  const ck = await parseCheckpoint(ptZip(pkl, { 0: f32bytes([7, 8]), 1: f32bytes([9]) }), 'train.pt');
  assert.deepEqual([...ck.tensors.keys()], ['a']);
  assert.deepEqual([...(ck.tensors.get('a')!.data as Float32Array)], [7, 8]);
});

test('forbidden globals are refused, never executed', async () => {
  const osSystem = new Pickle().global('os', 'system').str('touch /tmp/pwned').op(0x85, 0x52).bytes();
  await assert.rejects(parseCheckpoint(ptZip(osSystem, {}), 'evil.pt'), isErr(/refusing to unpickle os\.system: not a plain state dict/));
  // The same through STACK_GLOBAL (protocol 4 spelling).
  const evalStack = new Pickle().str('builtins').str('eval').op(0x93).str('1').op(0x85, 0x52).bytes();
  await assert.rejects(parseCheckpoint(ptZip(evalStack, {}), 'evil.pt'), isErr(/refusing to unpickle builtins\.eval/));
  // An allowed global as a REDUCE target inside a tensor record is fine; a storage class called directly is not.
  const callStorage = new Pickle().global('torch', 'FloatStorage').op(0x29, 0x52).bytes();
  await assert.rejects(parseCheckpoint(ptZip(callStorage, {}), 'odd.pt'), isErr(/torch\.FloatStorage cannot be called/));
});

test('corrupt checkpoints fail with one-line MedsamErrors', { skip: needs(MICRO) }, async () => {
  const good = new Uint8Array(readFileSync(MICRO));
  await assert.rejects(parseCheckpoint(good.subarray(0, good.length >> 1), 'half.pt'), isErr(/truncated/));
  await assert.rejects(parseCheckpoint(good.subarray(0, good.length - 30), 'cut.pt'), isErr(/truncated|not a valid/));
  // Flip bytes inside a weight record (past data.pkl): the CRC check catches it.
  const flipped = good.slice();
  for (let i = 0; i < 16; i++) flipped[200000 + i] ^= 0xff;
  await assert.rejects(parseCheckpoint(flipped, 'flipped.pt'), isErr(/CRC-32|corrupt/));
  await assert.rejects(parseCheckpoint(new TextEncoder().encode('definitely not a checkpoint'), 'x.pt'), isErr(/neither a PyTorch/));
  await assert.rejects(parseCheckpoint(Uint8Array.from([0x80, 2, 0x8a, 0x0a]), 'old.pt'), isErr(/legacy/));
  await assert.rejects(loadCheckpoint('/nonexistent/m.pt'), isErr(/does not exist/));
  // A zip without data.pkl, a missing storage record, an unknown opcode, a truncated pickle.
  await assert.rejects(parseCheckpoint(buildZip({ 'a/other.txt': new Uint8Array(3) }, false), 'nopkl.pt'), isErr(/no data\.pkl/));
  const oneTensor = new Pickle().op(0x7d).str('w').tensor('FloatStorage', '0', 2, 0, [2], [1]).op(0x73).bytes();
  await assert.rejects(parseCheckpoint(ptZip(oneTensor, {}), 'norec.pt'), isErr(/storage record archive\/data\/0, which is missing/));
  await assert.rejects(parseCheckpoint(ptZip(oneTensor, { 0: f32bytes([1]) }), 'short.pt'), isErr(/has 4 bytes, expected 8/));
  await assert.rejects(
    parseCheckpoint(ptZip(Uint8Array.from([0x80, 2, 0xff, 0x2e]), {}), 'op.pt'),
    isErr(/unsupported pickle opcode 0xff/),
  );
  await assert.rejects(parseCheckpoint(ptZip(oneTensor.subarray(0, 20), {}), 'trunc.pt'), isErr(/truncated/));
  // A view reaching past its storage.
  const past = new Pickle().op(0x7d).str('w').tensor('FloatStorage', '0', 2, 1, [2], [1]).op(0x73).bytes();
  await assert.rejects(parseCheckpoint(ptZip(past, { 0: f32bytes([1, 2]) }), 'past.pt'), isErr(/past the end of its storage/));
});

test('safetensors: write → load round trip through a file, and corrupt headers', async () => {
  const tensors = new Map<string, NdArray>([
    ['a.weight', { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
    ['a.half', { dtype: 'float16', shape: [3], data: Float32Array.from([0.5, -65504, 1 / 3]) }],
    ['a.bf', { dtype: 'bfloat16', shape: [1], data: Float32Array.from([1.5]) }],
    ['n.steps', { dtype: 'int64', shape: [], data: BigInt64Array.from([5n]) }],
    ['ünïcode', { dtype: 'uint8', shape: [1], data: Uint8Array.from([9]) }],
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  try {
    const p = join(dir, 'm.safetensors');
    const bytes = encodeSafetensors(tensors, { format: 'pt' });
    writeFileSync(p, bytes);
    const ck = await loadCheckpoint(p);
    assert.equal(ck.format, 'safetensors');
    assert.deepEqual([...ck.tensors.keys()], [...tensors.keys()]);
    assert.deepEqual([...(ck.tensors.get('a.weight')!.data as Float32Array)], [1, 2, 3, 4]);
    assert.deepEqual([...(ck.tensors.get('a.half')!.data as Float32Array)], [0.5, -65504, 0.333251953125]);
    assert.equal(ck.sourceDtypes.get('a.half'), 'float16');
    assert.deepEqual([...(ck.tensors.get('a.bf')!.data as Float32Array)], [1.5]);
    assert.equal((ck.tensors.get('n.steps')!.data as BigInt64Array)[0], 5n);
    assert.deepEqual(ck.tensors.get('n.steps')!.shape, []);
    assert.equal(ck.tensors.get('ünïcode')!.data[0], 9);
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLen % 8, 0);
    await assert.rejects(
      parseCheckpoint(bytes.subarray(0, bytes.length - 3), 'cut.safetensors'),
      isErr(/does not fit its shape|truncated/),
    );
    const bad = bytes.slice();
    bad[9] = 0x21; // break the JSON
    await assert.rejects(parseCheckpoint(bad, 'bad.safetensors'), isErr(/JSON header is corrupt/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkKeys lists missing and unexpected keys', () => {
  const t = new Map<string, NdArray>(['a', 'b', 'x'].map((k) => [k, { dtype: 'float32', shape: [1], data: new Float32Array(1) }]));
  assert.throws(() => checkKeys(t, ['a', 'b', 'c']), isErr(/1 missing key\(s\): c; 1 unexpected key\(s\): x/));
  assert.throws(
    () => checkKeys(t, ['a', 'b', 'c'], { allowUnexpected: true }),
    isErr(/^checkpoint does not match the model: 1 missing key\(s\): c —/),
  );
  checkKeys(t, ['a', 'b'], { allowUnexpected: true });
  const many = Array.from({ length: 25 }, (_, i) => `k${i}`);
  assert.throws(
    () => checkKeys(t, [...many, 'a', 'b', 'x'], { source: 'm.pt' }),
    isErr(/^m\.pt does not match the model: 25 missing key\(s\): k0, .*k9, … \(25 in all\)/),
  );
});
