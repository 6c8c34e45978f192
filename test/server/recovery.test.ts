import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { ROOT } from '../helpers/cli.js';
import { SHARED_SKIP, call, croppedLesion } from './harness.js';

interface Child {
  proc: ChildProcess;
  url: string;
  startMs: number;
}

/** `medsam2 serve --port 0` as a child process; resolves with its URL once it prints it (60 s bound). */
function serve(dataDir: string): Promise<Child> {
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', '--data-dir', dataDir, '--threads', '2'],
    {
      cwd: ROOT,
      env: { ...process.env, MEDSAM2_DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`serve did not start in 60 s: ${out}${err}`));
    }, 60_000);
    proc.stderr!.on('data', (d) => {
      err += d;
    });
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]!, startMs: performance.now() - t0 });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${out}${err}`));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('medsam2 serve: kill -9 and restart loses nothing', { skip: SHARED_SKIP }, () => {
  let dir: string;
  let child: Child | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'medsam2-recovery-'));
  });
  after(() => {
    child?.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('sessions come back with the same objects, prompts and masks; finished jobs keep their results; SIGTERM exits cleanly', async () => {
    const crop = await croppedLesion(dir, 1);
    const c = await readNpzCase(crop.path);
    const box = promptFromReference('key-box', { reference: c.label!.data as ArrayLike<number>, dims: c.image.dims }).box!;
    const data = join(dir, 'data');
    child = await serve(data);
    process.stdout.write(`serve started in ${child.startMs.toFixed(0)} ms (through tsx, busy machine)\n`);
    let url = child.url;

    const up = await call(url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    assert.equal(up.status, 201);
    const sid = (await call(url, 'POST', '/sessions', { body: { uploadId: up.body.id } })).body.id as string;
    const key = await call(url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 1, slice: crop.key, box } });
    assert.equal(key.status, 200);
    const prop = await call(url, 'POST', `/sessions/${sid}/propagate`, { body: {} });
    assert.equal(prop.status, 200, JSON.stringify(prop.body));
    const two = await call(url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 2, slice: crop.key, box: [20, 20, 80, 80] } });
    assert.equal(two.status, 200);
    const view = await until('label map saved', async () => {
      const v = (await call(url, 'GET', `/sessions/${sid}`)).body;
      return v.persisted ? v : undefined;
    });
    const labels = (await call(url, 'GET', `/sessions/${sid}/labelmap?format=nrrd`)).body as Uint8Array;
    const job = (await call(url, 'POST', '/jobs', { body: { uploadId: up.body.id, policy: 'key-box' } })).body;
    await until('job done', async () => ((await call(url, 'GET', `/jobs/${job.id}`)).body.status === 'done' ? true : undefined));
    const jobResult = (await call(url, 'GET', `/jobs/${job.id}/result?format=nrrd`)).body as Uint8Array;

    child.proc.kill('SIGKILL');
    await new Promise((r) => child!.proc.once('exit', r));
    child = await serve(data);
    url = child.url;

    const back = (await call(url, 'GET', `/sessions/${sid}`)).body;
    assert.equal(back.live, false);
    assert.deepEqual(back.objects, view.objects, 'same objects, prompted slices and mask slices');
    assert.deepEqual(
      back.objects.map((o: { objId: number }) => o.objId),
      [1, 2],
    );
    assert.deepEqual((await call(url, 'GET', `/sessions/${sid}/labelmap?format=nrrd`)).body, labels, 'same label map');
    assert.equal((await call(url, 'GET', `/jobs/${job.id}`)).body.status, 'done');
    assert.deepEqual((await call(url, 'GET', `/jobs/${job.id}/result?format=nrrd`)).body, jobResult);
    // The next interaction replays the history into a fresh Session: same masks.
    const again = await call(url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 1, slice: crop.key, box, replace: true } });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.mask, key.body.mask, 'replayed session gives the same key-slice mask');

    child.proc.kill('SIGTERM');
    const code = await new Promise((r) => child!.proc.once('exit', r));
    assert.equal(code, 0, 'graceful SIGTERM exit');
    child = undefined;
  });
});
