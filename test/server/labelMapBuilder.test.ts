/**
 * Label-map saves are built on a worker thread (LabelMapBuilder): on the cropped CT-lesion case
 * with the default model — a propagated lesion, a second object, and a literal brush edit away
 * from the lesion (which the largest-3D-component step would drop were it not literal) — the
 * worker's map is byte for byte Session.labelMap(). The main thread's share (collecting the parts
 * and posting them) is printed beside the in-thread build; timings are not asserted.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { LabelMapBuilder } from '../../src/server/sessions/labelMapBuilder.js';
import { Session } from '../../src/session/index.js';
import { SHARED_SKIP, croppedLesion } from './harness.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

const dir = mkdtempSync(join(tmpdir(), 'medsam2-labelmap-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('label maps built on a worker thread', { skip: SHARED_SKIP }, () => {
  it('equal Session.labelMap() byte for byte (propagated object, second object, literal edit)', async () => {
    const crop = await croppedLesion(dir);
    const c = await loadCase(crop.path);
    const [nx, ny] = c.image.dims;
    const key = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims });
    const s = await Session.open(c.image, { threads: 2 });
    const builder = new LabelMapBuilder();
    try {
      await s.addPrompt(1, key.slice, { box: key.box });
      await s.propagate();
      const [x0, y0, x1, y1] = key.box!;
      const w = x1 - x0;
      await s.addPrompt(2, key.slice, { box: [Math.max(0, x0 - w), y0, x0, y1] });
      // A literal square far from the lesion, on another slice: not part of object 1's largest component.
      const edit = new Uint8Array(nx * ny);
      for (let y = 5; y < 25; y++) for (let x = 5; x < 25; x++) edit[y * nx + x] = 1;
      await s.edit(1, (key.slice + 1) % c.image.dims[2], { mask: edit });

      const t0 = performance.now();
      const here = s.labelMap().data as Uint8Array;
      const t1 = performance.now();
      const parts = s.labelMapParts();
      const pending = builder.build(parts);
      const t2 = performance.now();
      const there = await pending;
      console.log(
        `# label map in-thread ${(t1 - t0).toFixed(1)} ms; main-thread share with the worker ${(t2 - t1).toFixed(1)} ms (parts + post; busy machine)`,
      );
      assert.equal(there.length, here.length);
      assert.ok(
        there.every((v, i) => v === here[i]),
        'worker map = Session.labelMap()',
      );
      const count = (v: number) => there.reduce((n, x) => n + (x === v ? 1 : 0), 0);
      assert.ok(count(1) > 400 && count(2) > 0, `object voxels: 1 → ${count(1)}, 2 → ${count(2)}`);
      assert.equal(there[((key.slice + 1) % c.image.dims[2]) * nx * ny + 10 * nx + 10], 1, 'the literal edit is kept');
    } finally {
      await builder.close();
      await s.close();
    }
  });
});
