import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MedsamError } from '../../src/common/errors.js';
import type { FamilyTracker, FrameStack, ModelFamily, OpenedModel, SlicePrompt, TrackerPropagateArgs } from '../../src/families/family.js';
import { familyFor, registerFamily } from '../../src/families/registry.js';
import { IDENTITY_DIRECTION, type Volume } from '../../src/io/volume.js';
import type { ModelEntry } from '../../src/models/registry.js';
import { interactionFromJson, interactionToJson, ModelPool, PropagationCancelled, Session } from '../../src/session/index.js';

/**
 * A third model family is one object implementing ModelFamily plus registerFamily() (in-tree: one
 * folder under src/families and one line in registry.ts). This tiny fake one "segments" the
 * pixels inside a box brighter than 100 and "propagates" by re-thresholding inside the key's box
 * on every slice, which is enough to drive every Session feature without a model.
 */
let opens = 0,
  releases = 0;

class FakeTracker implements FamilyTracker {
  readonly overlap = 'later-object-wins' as const;
  framesEncoded = 0;
  private objs = new Map<number, { boxes: Map<number, [number, number, number, number]>; masks: Map<number, Uint8Array> }>();
  constructor(private readonly stack: FrameStack) {}
  private seg(frame: number, b: [number, number, number, number]): Uint8Array {
    const px = this.stack.frame(frame);
    const m = new Uint8Array(this.stack.rows * this.stack.cols);
    for (let y = b[1]; y <= b[3]; y++)
      for (let x = b[0]; x <= b[2]; x++) if (px[y * this.stack.cols + x]! > 100) m[y * this.stack.cols + x] = 1;
    return m;
  }
  async prompt(objId: number, frame: number, p: SlicePrompt): Promise<Uint8Array> {
    const o = this.objs.get(objId) ?? { boxes: new Map(), masks: new Map() };
    const box = p.box ?? [0, 0, this.stack.cols - 1, this.stack.rows - 1];
    const m = this.seg(frame, box);
    this.objs.set(objId, { boxes: new Map(o.boxes).set(frame, box), masks: new Map(o.masks).set(frame, m) });
    return m;
  }
  async propagate(objId: number, a: TrackerPropagateArgs) {
    const o = this.objs.get(objId)!;
    const [key, box] = [...o.boxes][0]!;
    const masks = new Map(o.masks);
    let framesRun = 0;
    for (let f = a.range[0]; f <= a.range[1]; f++) {
      if ((a.direction === 'forward' && f < key) || (a.direction === 'backward' && f > key)) continue;
      await new Promise((r) => setImmediate(r));
      if (a.signal?.aborted) throw new PropagationCancelled();
      masks.set(f, this.seg(f, box));
      framesRun++;
      a.onFrame?.(f, masks.get(f));
    }
    this.objs.set(objId, { ...o, masks });
    return { framesRun, stops: [{ key, down: 'volume-end' as const, up: 'volume-end' as const }] };
  }
  removeObject(objId: number) {
    this.objs.delete(objId);
  }
  masks(objId: number) {
    return this.objs.get(objId)?.masks ?? new Map();
  }
  snapshot() {
    return new Map(this.objs);
  }
  restore(s: unknown) {
    this.objs = new Map(s as typeof this.objs);
  }
  dispose() {
    this.objs.clear();
  }
}

const fakeFamily: ModelFamily = {
  id: 'fake',
  async open(entry: ModelEntry): Promise<OpenedModel> {
    opens++;
    return {
      entry,
      family: 'fake',
      startTracker: (stack) => new FakeTracker(stack),
      release: async () => {
        releases++;
      },
    };
  },
};

const entry = {
  id: 'fake-1',
  family: 'fake',
  files: {},
  inputSize: 64,
  normalisation: { mean: [0, 0, 0], std: [1, 1, 1], scale: '0-255' },
  licence: '-',
  provenance: 'test',
  description: 'fake family',
} as unknown as ModelEntry;

/** 8×6×5 volume: a bright 3×2 block on slices 1..3 at x 2..4, y 1..2. */
function volume(): Volume {
  const data = new Uint8Array(8 * 6 * 5);
  for (let z = 1; z <= 3; z++) for (let y = 1; y <= 2; y++) for (let x = 2; x <= 4; x++) data[z * 48 + y * 8 + x] = 200;
  return {
    data,
    dims: [8, 6, 5],
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: [...IDENTITY_DIRECTION],
    source: { format: 'nifti' },
  } as Volume;
}

test('a registered third family runs Sessions: prompt, range/direction, undo, remove, replay, cancel, pool', async () => {
  assert.throws(
    () => familyFor(entry),
    (e: unknown) => e instanceof MedsamError && /family 'fake'/.test(e.message),
  );
  registerFamily(fakeFamily);
  const closed: string[] = [];
  const pool = new ModelPool({ idleMs: 0, onClose: (e) => closed.push(e.id) });
  const v = volume();
  const s = await Session.open(v, { model: entry, pool });
  assert.equal(s.family, 'fake');
  assert.equal(s.numSlices, 5);

  const m = await s.addPrompt(1, 2, { box: [0, 0, 7, 5] });
  assert.equal(m.area, 6);
  await assert.rejects(s.addPrompt(1, 9, { box: [0, 0, 1, 1] }), /slice=9 is outside/);
  await assert.rejects(s.addPrompt(1, 2, { box: [0, 0, 8, 1] }), /outside the image width/);
  await assert.rejects(s.propagate({ range: [3, 1] }), /not \[from, to\]/);

  await s.propagate({ direction: 'forward' });
  assert.deepEqual(s.objects[0]!.slices, [2, 3]);
  assert.equal(s.objects[0]!.propagated, false);
  await s.propagate({ range: [0, 1], full: true });
  assert.deepEqual(s.objects[0]!.slices, [1, 2, 3]);

  await s.addPrompt(2, 1, { box: [3, 1, 4, 2] }); // boxes need x1 > x0, y1 > y0 (prompt validation on main)
  let lm = s.labelMap();
  assert.equal(lm.data[1 * 48 + 1 * 8 + 3], 2, 'the later object wins where they overlap');
  assert.equal(lm.data[1 * 48 + 1 * 8 + 2], 1);
  assert.deepEqual(lm.dims, v.dims);
  assert.deepEqual(lm.spacing, v.spacing);

  await s.removeObject(2);
  assert.deepEqual(
    s.objects.map((o) => o.objId),
    [1],
  );
  assert.equal(await s.undo(), true);
  assert.deepEqual(
    s.objects.map((o) => o.objId),
    [1, 2],
  );

  const hist = s.history();
  assert.deepEqual(
    hist.map((i) => i.kind),
    ['prompt', 'propagate', 'propagate', 'prompt'],
  );
  const json = JSON.parse(JSON.stringify(hist.map(interactionToJson))) as unknown[];
  const r = await Session.fromHistory(
    v,
    json.map((j) => interactionFromJson(j)),
    { model: entry, pool },
  );
  assert.deepEqual([...r.labelMap().data], [...s.labelMap().data]);
  assert.throws(() => interactionFromJson({ kind: 'prompt', objId: 1, slice: 'x', prompt: {} }), /slice is not an integer/);
  await r.close();

  // Cancel: a propagation aborted half-way changes nothing and is not recorded.
  const before = [...s.labelMap().data];
  const ctl = new AbortController();
  await assert.rejects(
    s.propagate({
      full: true,
      signal: ctl.signal,
      onProgress: (d) => {
        if (d === 2) ctl.abort();
      },
    }),
    PropagationCancelled,
  );
  assert.deepEqual([...s.labelMap().data], before);
  assert.equal(s.history().length, 4);

  lm = s.labelMap();
  assert.equal(await s.undo(), true);
  assert.equal(await s.undo(), true);
  assert.equal(await s.undo(), true);
  assert.deepEqual(s.objects[0]!.slices, [2]);
  assert.equal(await s.undo(), true);
  assert.equal(await s.undo(), false);
  assert.deepEqual(s.objects, []);

  await s.close();
  assert.equal(opens, 1, 'the pool opened the model once for both Sessions');
  await new Promise((res) => setImmediate(res));
  assert.equal(releases, 1, 'and closed it when the last lease went (idleMs 0)');
  assert.deepEqual(closed, [entry.id], 'and said so once, after the release (onClose)');
});

test("onSlice streams each slice's mask while propagate runs, ending on the final masks", async () => {
  const s = await Session.open(volume(), { model: entry, pool: new ModelPool({ idleMs: 0 }) });
  await s.addPrompt(1, 2, { box: [0, 0, 7, 5] });
  let resolved = false;
  const events: { objId: number; slice: number; mask: Uint8Array; progressSeen: number }[] = [];
  let progress = 0;
  const p = s
    .propagate({
      onProgress: () => {
        progress++;
      },
      onSlice: (objId, slice, mask) => {
        assert.equal(resolved, false, 'onSlice after propagate resolved');
        events.push({ objId, slice, mask: Uint8Array.from(mask), progressSeen: progress });
      },
    })
    .then((r) => {
      resolved = true;
      return r;
    });
  await p;
  assert.deepEqual(
    events.map((e) => [e.objId, e.slice]),
    [0, 1, 2, 3, 4].map((k) => [1, k]),
    'one event per slice, in order',
  );
  // Streamed as decided, not at the end: the event for slice k comes with its own progress tick.
  assert.deepEqual(
    events.map((e) => e.progressSeen),
    [1, 2, 3, 4, 5],
  );
  const last = new Map(events.map((e) => [e.slice, e.mask]));
  for (let k = 0; k < 5; k++) assert.deepEqual([...last.get(k)!], [...(s.mask(1, k) ?? new Uint8Array(48))], `slice ${k}`);
  assert.deepEqual(
    events.filter((e) => e.mask.some((v) => v)).map((e) => e.slice),
    [1, 2, 3],
  );
  await s.close();
});

test('the label map keeps what a prompt made on a slice the object does not reach (largest-component filter)', async () => {
  try {
    familyFor(entry);
  } catch {
    registerFamily(fakeFamily);
  }
  const pool = new ModelPool({ idleMs: 0 });
  const v = volume();
  // A second bright patch on slice 0, not connected to the block of slices 1..3.
  for (let y = 4; y <= 5; y++) for (let x = 6; x <= 7; x++) v.data[y * 8 + x] = 200;
  const s = await Session.open(v, { model: entry, pool });
  try {
    await s.addPrompt(1, 2, { box: [2, 1, 4, 2] });
    await s.propagate();
    const count = (labels: ArrayLike<number>) => Array.from(labels).filter((l) => l === 1).length;
    assert.equal(count(s.labelMap().data as Uint8Array), 18, 'the block, slices 1..3');
    // The person prompts the patch on slice 0: a piece not connected to the rest.
    const m = await s.addPrompt(1, 0, { box: [6, 4, 7, 5] });
    assert.equal(m.area, 4);
    const lm = s.labelMap();
    assert.equal(count(lm.data as Uint8Array), 22, 'the prompted patch stays beside the largest component');
    assert.equal((lm.data as Uint8Array)[4 * 8 + 6], 1);
    // What the filter is given: the slices a person prompted.
    assert.deepEqual(s.objects[0]!.keys, [0, 2]);
  } finally {
    await s.close();
  }
});
