import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MedsamError } from '../../src/common/errors.js';
import { encodeNpy, parseNpy } from '../../src/io/npy.js';
import { encodeNpz, openNpz, openNpzBytes, readNpz, writeNpz } from '../../src/io/npzFile.js';
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16Round,
  float32ToFloat16Round,
  roundToBfloat16InPlace,
} from '../../src/common/halfFloat.js';
import type { NdArray } from '../../src/io/ndarray.js';

const FIX = join(process.env.MEDSAM2_SAM2_FIXTURES ?? '../shared/fixtures/sam2');
const DATA = '../shared/data/ct-lesion';
const L1 = join(FIX, 'inputs_l1.npz');
const BIDIR = join(FIX, 'micro512_box_bidir.npz');

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** Hand-made .npy bytes, so dtypes numpy can write but we never do (big-endian, Fortran) are covered. */
function npyBytes(descr: string, shape: string, fortran: boolean, body: number[]): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  h = h.padEnd(Math.ceil((h.length + 11) / 64) * 64 - 11) + '\n';
  const out = new Uint8Array(10 + h.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  for (let i = 0; i < h.length; i++) out[10 + i] = h.charCodeAt(i);
  out.set(body, 10 + h.length);
  return out;
}

test('inputs_l1.npz: keys, shapes, dtypes and values match the fixture index', {
  skip: !existsSync(L1) && 'needs ../shared/fixtures/sam2',
}, async () => {
  const z = await readNpz(L1);
  assert.deepEqual(Object.keys(z).sort(), ['frames_lut', 'frames_mid', 'frames_mid_idx', 'frames_u8', 'gts', 'spacing']);
  const index = JSON.parse(readFileSync(join(FIX, 'inputs_index.json'), 'utf8')).l1.keys as Record<string, [number[], string]>;
  for (const [k, [shape, dtype]] of Object.entries(index)) {
    assert.deepEqual(z[k].shape, shape, k);
    assert.equal(z[k].dtype, dtype, k);
  }
  assert.equal(sum(z.gts.data as Uint8Array), 11697);
  assert.equal(sum(z.frames_u8.data as Uint8Array), 182998967);
  assert.ok(z.frames_lut.data instanceof Float32Array);
  assert.equal(z.frames_lut.data[0], Math.fround(-2.1179039478302));
  assert.equal(z.frames_lut.data[3 * 256 - 1], Math.fround(2.640000104904175));
  assert.deepEqual([...(z.spacing.data as Float64Array)], [0.31445300579071045, 0.31445300579071045, 5.0]);
  assert.equal(z.frames_mid_idx.dtype, 'int64');
  assert.equal((z.frames_mid_idx.data as BigInt64Array)[0], 8n);
  // frames_mid is the LUT applied to the mid slice (README identity): ties the two decoders together.
  const u8 = z.frames_u8.data as Uint8Array;
  const mid = z.frames_mid.data as Float32Array;
  const off = 8 * 512 * 512;
  for (const p of [0, 1000, 131072, 262143]) {
    for (let c = 0; c < 3; c++) assert.equal(mid[c * 262144 + p], z.frames_lut.data[c * 256 + u8[off + p]]);
  }
});

test('micro512_box_bidir.npz: float16 and int32 members decode exactly', {
  skip: !existsSync(BIDIR) && 'needs ../shared/fixtures/sam2',
}, () => {
  const f = openNpz(BIDIR);
  assert.equal(f.keys().length, 128);
  const v = f.get('s1_f8_video_logits');
  assert.equal(v.dtype, 'float16');
  assert.deepEqual(v.shape, [1, 512, 512]);
  assert.ok(v.data instanceof Float32Array);
  assert.equal(v.data[0], 1.36328125); // numpy prints 1.363; the float16 bits 0x3d74 are exactly 1 + 372/1024
  assert.ok(Math.abs(sum(v.data as Float32Array) - 708773.1338478327) < 1e-3);
  const c1 = f.get('mod_trunk_c0_out_1');
  assert.ok(Math.abs(sum(c1.data as Float32Array) - -16043.086693048477) < 1e-3);
  const ins = f.get('mod_prompt_encoder_c0_in_1');
  assert.equal(ins.dtype, 'int32');
  assert.deepEqual([...(ins.data as Int32Array)], [2, 3]);
  assert.throws(
    () => f.get('nope'),
    (e: unknown) => e instanceof MedsamError && /has no array 'nope'/.test(e.message),
  );
});

test('ct-lesion npz volumes read with the MedSAM2 layout', { skip: !existsSync(DATA) && 'needs ../shared/data' }, async () => {
  const expected: Record<string, [number, number]> = {
    'CT_Lesion_000001_02_01_008-023.npz': [16, 11697],
    'CT_Lesion_000002_03_01_035-047.npz': [13, 3961],
    'CT_Lesion_000009_03_01_036-048.npz': [13, 8833],
  };
  assert.deepEqual(
    readdirSync(DATA)
      .filter((f) => f.endsWith('.npz'))
      .sort(),
    Object.keys(expected),
  );
  for (const [file, [d, gtSum]] of Object.entries(expected)) {
    const z = await readNpz(join(DATA, file));
    assert.deepEqual(Object.keys(z), ['imgs', 'gts', 'spacing', 'direction', 'origin']);
    assert.deepEqual(z.imgs.shape, [d, 512, 512]);
    assert.equal(z.imgs.dtype, 'uint8');
    assert.equal(sum(z.gts.data as Uint8Array), gtSum);
    assert.deepEqual(
      [...(z.direction.data as Float64Array)].map((x) => x + 0),
      [0, 1, 0, 1, 0, 0, 0, 0, -1],
    );
  }
});

test('write → read round trip, stored and compressed, every dtype, 0-d and empty arrays', async () => {
  const arrays: Record<string, NdArray> = {
    f32: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1.5, -2, 3e-8, Infinity, -0, 7]) },
    f64: { dtype: 'float64', shape: [3], data: Float64Array.from([Math.PI, -1e300, 0.1]) },
    f16: { dtype: 'float16', shape: [4], data: Float32Array.from([1, -2, 65504, 5.960464477539063e-8]) },
    u8: { dtype: 'uint8', shape: [2, 2], data: Uint8Array.from([0, 255, 7, 8]) },
    i8: { dtype: 'int8', shape: [2], data: Int8Array.from([-128, 127]) },
    b: { dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) },
    i16: { dtype: 'int16', shape: [2], data: Int16Array.from([-32768, 5]) },
    u16: { dtype: 'uint16', shape: [1], data: Uint16Array.from([65535]) },
    i32: { dtype: 'int32', shape: [1, 1, 2], data: Int32Array.from([-5, 2147483647]) },
    u32: { dtype: 'uint32', shape: [1], data: Uint32Array.from([4294967295]) },
    i64: { dtype: 'int64', shape: [2], data: BigInt64Array.from([-(2n ** 63n), 42n]) },
    u64: { dtype: 'uint64', shape: [1], data: BigUint64Array.from([2n ** 64n - 1n]) },
    scalar: { dtype: 'float64', shape: [], data: Float64Array.from([2.5]) },
    empty: { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
  };
  const dir = mkdtempSync(join(tmpdir(), 'npz-'));
  try {
    for (const compress of [false, true]) {
      const p = join(dir, `a${compress}.npz`);
      await writeNpz(p, arrays, { compress });
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.includes('.tmp')),
        [],
      );
      const back = await readNpz(p);
      assert.deepEqual(Object.keys(back), Object.keys(arrays));
      for (const [k, a] of Object.entries(arrays)) {
        assert.equal(back[k].dtype, a.dtype, k);
        assert.deepEqual(back[k].shape, a.shape, k);
        assert.deepEqual([...(back[k].data as Iterable<number | bigint>)], [...(a.data as Iterable<number | bigint>)], k);
      }
    }
    // Compression happened (the big zero array deflates) and bytes are deterministic.
    const big = { z: { dtype: 'float32' as const, shape: [10000], data: new Float32Array(10000) } };
    assert.ok(encodeNpz(big, { compress: true }).length < 1000);
    assert.ok(encodeNpz(big).length > 40000);
    assert.deepEqual(encodeNpz(big, { compress: true }), encodeNpz(big, { compress: true }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npy header is numpy-compatible: 64-byte aligned data, 1-d shape tuple with comma', () => {
  const b = encodeNpy({ dtype: 'float32', shape: [3], data: new Float32Array(3) });
  const headerLen = b[8] | (b[9] << 8);
  assert.equal((10 + headerLen) % 64, 0);
  const h = new TextDecoder().decode(b.subarray(10, 10 + headerLen));
  assert.match(h, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3,\), \}\s*\n$/);
});

test('big-endian, Fortran-order, float16 special values and native-order descr parse', () => {
  // >i4 [1, -2] and >f8 [1.5]
  const be = parseNpy(npyBytes('>i4', '(2,)', false, [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]));
  assert.deepEqual([...(be.data as Int32Array)], [1, -2]);
  const bf = parseNpy(npyBytes('>f8', '()', false, [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]));
  assert.deepEqual(bf.shape, []);
  assert.equal(bf.data[0], 1.5);
  // Fortran (2,3): C-order [[0,1,2],[3,4,5]] is stored column-major as 0,3,1,4,2,5.
  const f = parseNpy(npyBytes('|u1', '(2, 3)', true, [0, 3, 1, 4, 2, 5]));
  assert.deepEqual([...(f.data as Uint8Array)], [0, 1, 2, 3, 4, 5]);
  // 3-d Fortran (2,2,2) of int16 values v = 4i+2j+k.
  const vals: number[] = [];
  for (let k = 0; k < 2; k++) for (let j = 0; j < 2; j++) for (let i = 0; i < 2; i++) vals.push(4 * i + 2 * j + k, 0);
  const f3 = parseNpy(npyBytes('<i2', '(2, 2, 2)', true, vals));
  assert.deepEqual([...(f3.data as Int16Array)], [0, 1, 2, 3, 4, 5, 6, 7]);
  // float16: 1, -2, max, min subnormal, +inf, NaN, -0
  const h = parseNpy(npyBytes('<f2', '(7,)', false, [0, 0x3c, 0, 0xc0, 0xff, 0x7b, 1, 0, 0, 0x7c, 0, 0x7e, 0, 0x80]));
  const hv = [...(h.data as Float32Array)];
  assert.deepEqual(hv.slice(0, 5), [1, -2, 65504, 2 ** -24, Infinity]);
  assert.ok(Number.isNaN(hv[5]));
  assert.ok(Object.is(hv[6], -0));
  const hb = parseNpy(npyBytes('>f2', '(1,)', false, [0x3c, 0]));
  assert.equal(hb.data[0], 1);
  const native = parseNpy(npyBytes('=u2', '(1,)', false, [1, 2]));
  assert.equal(native.data[0], 0x0201);
  const bool = parseNpy(npyBytes('|b1', '(2,)', false, [1, 0]));
  assert.equal(bool.dtype, 'bool');
});

test('half-float helpers: exact decode and round-to-nearest-even encode', () => {
  for (let h = 0; h < 0x7c00; h += 37) assert.equal(float32ToFloat16Round(float16ToFloat32(h)), h);
  assert.equal(float32ToFloat16Round(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(float32ToFloat16Round(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.equal(float32ToFloat16Round(70000), 0x7c00);
  assert.equal(float32ToFloat16Round(2 ** -25), 0); // tie between 0 and min subnormal → 0
  assert.equal(float32ToFloat16Round(3 * 2 ** -25), 2);
  assert.equal(bfloat16ToFloat32(0x3f80), 1);
  assert.equal(bfloat16ToFloat32(0xc040), -3);
  assert.equal(float32ToBfloat16Round(1 + 2 ** -8), 0x3f80); // tie → even (down)
  assert.equal(float32ToBfloat16Round(1 + 3 * 2 ** -8), 0x3f82); // tie → even (up)
  assert.equal(float32ToBfloat16Round(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.equal(float32ToBfloat16Round(-Infinity), 0xff80);
  assert.ok(Number.isNaN(bfloat16ToFloat32(float32ToBfloat16Round(NaN))));
  const a = Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8, -1.2345]);
  roundToBfloat16InPlace(a);
  assert.deepEqual([...a], [1, 1 + 2 ** -6, bfloat16ToFloat32(float32ToBfloat16Round(-1.2345))]);
});

test('corrupt, truncated and non-npz inputs fail with one-line MedsamErrors', {
  skip: !existsSync(L1) && 'needs ../shared/fixtures/sam2',
}, async () => {
  const good = new Uint8Array(readFileSync(L1));
  const isErr = (re: RegExp) => (e: unknown) => e instanceof MedsamError && re.test(e.message) && !e.message.includes('\n');
  await assert.rejects(readNpz(good.subarray(0, 1000000)), isErr(/truncated/));
  await assert.rejects(readNpz(new TextEncoder().encode('hello, this is not a zip file at all')), isErr(/no ZIP signature/));
  await assert.rejects(readNpz(new Uint8Array(5)), isErr(/only 5 bytes/));
  // Flip bytes inside the first (deflated) member: inflate or the CRC check must catch it.
  const flipped = good.slice();
  for (let i = 5000; i < 5064; i++) flipped[i] ^= 0x5a;
  await assert.rejects(readNpz(flipped), isErr(/corrupt/));
  await assert.rejects(readNpz('/nonexistent/x.npz'), isErr(/does not exist/));
  const dir = mkdtempSync(join(tmpdir(), 'npz-'));
  try {
    writeFileSync(join(dir, 'empty.npz'), '');
    await assert.rejects(readNpz(join(dir, 'empty.npz')), isErr(/empty/));
    // A member whose .npy data is shorter than its shape says.
    const shortNpy = npyBytes('<f4', '(4,)', false, [0, 0, 0, 0]);
    const z = (await import('../../src/io/zip.js')).buildZip({ 'x.npy': shortNpy }, true);
    await assert.rejects(readNpz(z), isErr(/data is truncated \(expected 16 bytes/));
    assert.throws(() => parseNpy(npyBytes('<c8', '(1,)', false, [0, 0, 0, 0, 0, 0, 0, 0])), isErr(/dtype '<c8' is not supported/));
    // Text arrays: get() names the way to read them, a short one is refused.
    assert.throws(() => parseNpy(npyBytes('<U2', '(1,)', false, [0x61, 0, 0, 0])), isErr(/'<U2' is text, not numbers/));
    const shortText = (await import('../../src/io/zip.js')).buildZip({ 't.npy': npyBytes('<U2', '(1,)', false, [0x61, 0, 0, 0]) }, false);
    assert.throws(() => openNpzBytes(shortText).strings('t'), isErr(/data is truncated \(expected 8 bytes for 1 items of 2 characters/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('text arrays (numpy <U<n>): names round-trip beside numbers, readNpz leaves them out, big-endian reads', async () => {
  const isErr = (re: RegExp) => (e: unknown) => e instanceof MedsamError && re.test(e.message) && !e.message.includes('\n');
  const names = ['polyp', 'نیم\u200cفاصله', '🙂', ''];
  const bytes = encodeNpz({ v: { dtype: 'int32', shape: [4], data: new Int32Array([1, 2, 3, 4]) } }, { compress: true, text: { names } });
  const f = openNpzBytes(bytes);
  assert.deepEqual(f.keys(), ['v', 'names']);
  assert.equal(f.isText('names'), true);
  assert.equal(f.isText('v'), false);
  assert.deepEqual(f.strings('names'), names);
  assert.deepEqual(Object.keys(await readNpz(bytes)), ['v']);
  assert.throws(() => f.strings('v'), isErr(/dtype '<i4' is not text/));
  // numpy's '>U2' of ['ab'] and a 0-d '<U1'.
  const be = (await import('../../src/io/zip.js')).buildZip(
    { 'b.npy': npyBytes('>U2', '(1,)', false, [0, 0, 0, 0x61, 0, 0, 0, 0x62]), 'z.npy': npyBytes('<U1', '()', false, [0x7a, 0, 0, 0]) },
    false,
  );
  assert.deepEqual(openNpzBytes(be).strings('b'), ['ab']);
  assert.deepEqual(openNpzBytes(be).strings('z'), ['z']);
});
