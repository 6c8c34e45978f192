// Generated damage thrown at every reader (scripts/fuzzReaders.ts, lean): a fixed seed, a few
// hundred seeded mutations of small valid inputs, each read under small limits must end in a valid
// volume or one clear MedsamError line: never another error, impossible geometry or a hang. Then
// one regression case per bug the fuzzer found, built here, with the exact message expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { MedsamError } from '../../src/common/errors.js';
import { readNpzBytes } from '../../src/io/npz.js';
import { buildZip } from '../../src/io/zip.js';
import { readVolumeBytes } from '../../src/io/volumeBytes.js';
import { parseDicomBytes } from '../../src/io/dicomLib.js';
import { existsSync, readFileSync } from 'node:fs';
import { readerSeeds, type ReaderSeed } from '../../scripts/fuzz/readerSeeds.js';
import { runCase, type CaseResult } from '../../scripts/fuzz/runCase.js';
import { videoSeeds } from '../../scripts/fuzz/videoSeeds.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVideo } from '../../src/io/video.js';

const SEED = 11;
const CASES = 300;

test(`fuzzReaders: ${CASES} seeded mutations over every reader end ok or in one clear MedsamError`, async () => {
  const seeds = await readerSeeds();
  const results: CaseResult[] = [];
  for (let i = 0; i < CASES; i++) results.push(await runCase(seeds, SEED, i));
  const findings = results.filter((r) => r.outcome === 'finding').map((r) => `#${r.index} [${r.format}] ${r.what}: ${r.detail}`);
  assert.deepEqual(findings, []);
  // The run reached the formats built in memory and damaged them enough to be refused.
  const formats = new Set(results.map((r) => r.format));
  for (const f of ['nifti', 'nifti-gz', 'nrrd-raw', 'nrrd-gzip', 'nrrd-detached', 'metaimage', 'npz', 'npz-deflate', 'png'])
    assert.ok(formats.has(f), `no case for ${f}`);
  assert.ok(results.filter((r) => r.outcome === 'clear').length > CASES / 3, 'most damage is refused');
  assert.ok(
    results.some((r) => r.outcome === 'ok'),
    'some damage is harmless',
  );
});

const VIDEO_CASES = 30;

test(`fuzzReaders: ${VIDEO_CASES} seeded mutations of mp4/avi/mkv files made by ffmpeg end in decoded frames or one clear MedsamError`, async () => {
  const seeds = await videoSeeds();
  assert.deepEqual(
    seeds.map((s) => s.format),
    ['video-mp4', 'video-avi', 'video-mkv'],
  );
  // Each seed reads whole before it is damaged.
  for (const s of seeds) {
    const r = await s.read(s.bytes, { maxVoxels: 2 ** 20 });
    assert.ok('video' in r && r.video.frames.length === 6 && r.video.width === 32 && r.video.height === 24, s.name);
  }
  const results: CaseResult[] = [];
  for (let i = 0; i < VIDEO_CASES; i++) results.push(await runCase(seeds, SEED, i));
  const findings = results.filter((r) => r.outcome === 'finding').map((r) => `#${r.index} [${r.format}] ${r.what}: ${r.detail}`);
  assert.deepEqual(findings, []);
  assert.ok(results.some((r) => r.outcome === 'clear') && results.some((r) => r.outcome === 'ok'), 'damage both refused and harmless');
});

test('readVideo decodes no more pixels than the read limit allows: a longer video is refused in one line, not held in memory', async () => {
  const [mp4] = await videoSeeds();
  const dir = mkdtempSync(join(tmpdir(), 'video-limit-'));
  try {
    const path = join(dir, 'seed.mp4');
    writeFileSync(path, mp4!.bytes);
    // 6 frames of 32x24 = 4608 pixels; a limit of two frames' worth stops the decode.
    await assert.rejects(readVideo(path, { limits: { maxVoxels: 2 * 32 * 24 } }), (e: unknown) => {
      assert.ok(e instanceof MedsamError);
      assert.equal(e.message.split(' — ')[0], `video ${path} decodes to more than 1536 pixels (frames × width × height)`);
      assert.match(e.hint!, /MEDSAM2_MAX_VOXELS/);
      return true;
    });
    assert.equal((await readVideo(path, { limits: { maxVoxels: 6 * 32 * 24 } })).frames.length, 6, 'exactly the limit is fine');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzzReaders classifies a non-MedsamError, a multi-line message and impossible geometry as findings', async () => {
  const bad = (read: ReaderSeed['read']): ReaderSeed[] => [{ format: 'x', name: 'x.nii', bytes: new Uint8Array(8), headerLength: 8, read }];
  const typeError = await runCase(
    bad(async () => {
      throw new TypeError('Cannot read properties of undefined');
    }),
    1,
    0,
  );
  assert.equal(typeError.outcome, 'finding');
  assert.match(typeError.detail!, /^TypeError: Cannot read properties/);
  const multiLine = await runCase(
    bad(async () => {
      const e = new MedsamError('fine');
      Object.defineProperty(e, 'message', { value: 'a\nb' });
      throw e;
    }),
    1,
    0,
  );
  assert.match(multiLine.detail!, /^multi-line MedsamError/);
  const geometry = await runCase(
    bad(async () => ({
      volume: {
        dims: [2, 2, 1],
        spacing: [1, Number.NaN, 1],
        origin: [0, 0, 0],
        direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
        data: new Uint8Array(4),
        source: { format: 'nifti', path: 'x' },
      },
    })),
    1,
    0,
  );
  assert.equal(geometry.outcome, 'finding');
  assert.match(geometry.detail!, /invalid geometry: spacing/);
});

/** An .npy (version 1) with `header` as its dict, padded as numpy pads it, then `body`. */
function npy(header: string, body: Uint8Array): Uint8Array {
  const pad = 64 - ((10 + header.length + 1) % 64);
  const h = new TextEncoder().encode(`${header}${' '.repeat(pad % 64)}\n`);
  const out = new Uint8Array(10 + h.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(h, 10);
  out.set(body, 10 + h.length);
  return out;
}

test('regression (found by the fuzzer, 6000 cases): a dtype string holding a line break is quoted on one line', () => {
  const member = npy("{'descr': '<f8\n\u0000', 'fortran_order': False, 'shape': (3,), }", new Uint8Array(24));
  const zip = buildZip({ 'spacing.npy': member }, false);
  assert.throws(
    () => readNpzBytes(zip, 'case.npz'),
    (e: Error) => {
      assert.ok(e instanceof MedsamError);
      assert.equal(
        e.message,
        "case.npz:spacing is not a valid .npy array: dtype '<f8\\n\\u0000' is not supported (use float16/32/64, (u)int8..64 or bool) — re-save it with numpy.save / numpy.savez",
      );
      return true;
    },
  );
});

test('regression: a header value of 100,000 characters is cut in the message, which stays one bounded line', () => {
  const nrrd = new TextEncoder().encode(
    `NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 1\nspace: ${'x'.repeat(100_000)}\nencoding: raw\n\n`,
  );
  assert.throws(
    () => readVolumeBytes(new Uint8Array([...nrrd, ...new Uint8Array(8)]), 'long.nrrd', { onWarning: () => {} }),
    (e: Error) => {
      assert.ok(e instanceof MedsamError);
      assert.ok(e.message.length < 1100, `${e.message.length} characters`);
      assert.match(e.message, /^NRRD file long\.nrrd has unsupported space "x+… \(\d+ more characters\)/);
      assert.match(e.hint!, /^only 3D spaces/);
      return true;
    },
  );
});

/** The message readVolumeBytes throws for `bytes`, read in a worker that is ended after `limitMs` (a hang), or 'ok'. */
function readInWorker(bytes: Uint8Array, name: string, limitMs: number): Promise<string> {
  const url = new URL('../../src/io/volumeBytes.ts', import.meta.url).href;
  const code = `const { parentPort, workerData } = require('node:worker_threads');
import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); }).then(({ readVolumeBytes }) => {
  try { readVolumeBytes(workerData.bytes, workerData.name, { onWarning() {} }); parentPort.postMessage('ok'); }
  catch (e) { parentPort.postMessage(e.message); }
});`;
  const w = new Worker(code, { eval: true, execArgv: [], workerData: { bytes, name } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void w.terminate();
      resolve(`still reading after ${limitMs} ms (a hang)`);
    }, limitMs);
    w.on('message', (m: string) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(m);
    });
    w.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

test('regression (found by the fuzzer, 6000 cases): "space directions" of a million unclosed "(" is refused, not scanned for minutes', async () => {
  // The old `\([^)]*\)` scan was quadratic: this header kept a core busy for many minutes. Read in
  // a worker so a regression ends as a failed test (ended after 30 s, ~100x the linear read).
  const head = `NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 1\nspace directions: ${'(1,'.repeat(350_000)}\nencoding: raw\n\n`;
  const bytes = new Uint8Array([...new TextEncoder().encode(head), ...new Uint8Array(8)]);
  assert.equal(
    await readInWorker(bytes, 'dirs.nrrd', 30_000),
    'NRRD file dirs.nrrd has 0 space directions for 3 axes — re-export the file',
  );
});

const SEG_SLICE = '../shared/data/dicom/seg-ct-3slice/02.dcm';

test('regression (found by the fuzzer, seed 4 case 2667): an element whose length runs past the file is refused when parsed, naming the file', {
  skip: !existsSync(SEG_SLICE) && 'needs ../shared/data',
}, () => {
  // dicom-parser stopped at the end of the bytes without checking the last element's length, and threw a
  // bare string ("readFixedString: attempt to read past end of buffer") only when the series reader read it.
  const b = new Uint8Array(readFileSync(SEG_SLICE));
  b.set([111, 166, 19, 242, 88, 249, 230, 214, 178, 172, 229, 93, 92, 117, 84, 27, 207], 689);
  assert.throws(
    () => parseDicomBytes(b, '02.dcm', false),
    (e: unknown) =>
      e instanceof MedsamError &&
      /^DICOM file 02\.dcm is corrupt or truncated \(element \(\w{4},\w{4}\) runs past the end of its \d+ bytes\) — remove it/.test(
        e.message,
      ),
  );
});
