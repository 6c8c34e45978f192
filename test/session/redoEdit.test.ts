import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editEntry as entry, trackers, volume } from './editFamily.js';
import { applyStroke, interactionFromJson, interactionToJson, ModelPool, Session } from '../../src/session/index.js';

/** Redo and literal (brush/eraser) edits in the Session, on the fake family of editFamily.ts (no model). */
const area = (m: Uint8Array | undefined) => (m ? m.reduce((a, b) => a + b, 0) : 0);
const open = () => Session.open(volume(), { model: entry, pool: new ModelPool({ idleMs: 0 }) });

test('redo brings back what undo took, exactly; a new interaction clears the redo stack', async () => {
  const s = await open();
  await s.addPrompt(1, 2, { box: [0, 0, 7, 5] });
  await s.propagate();
  const propagated = [...s.labelMap().data];
  assert.equal(await s.redo(), false, 'nothing to redo yet');
  assert.equal(await s.undo(), true);
  assert.deepEqual(s.objects[0]!.slices, [2]);
  assert.deepEqual(
    s.redoable().map((i) => i.kind),
    ['propagate'],
  );
  assert.equal(await s.undo(), true);
  assert.deepEqual(s.objects, []);
  assert.deepEqual(
    s.redoable().map((i) => i.kind),
    ['prompt', 'propagate'],
    'redo order',
  );
  assert.equal(await s.redo(), true);
  assert.deepEqual((s.objects as { slices: number[] }[])[0]!.slices, [2]);
  assert.equal(await s.redo(), true);
  assert.deepEqual([...s.labelMap().data], propagated, 'redo restores the propagated masks');
  assert.deepEqual(
    s.history().map((i) => i.kind),
    ['prompt', 'propagate'],
  );
  assert.equal(await s.redo(), false);

  // Undo, then a new interaction: the undone one is gone for good.
  await s.undo();
  await s.addPrompt(2, 1, { box: [3, 1, 4, 2] });
  assert.deepEqual(s.redoable(), []);
  assert.equal(await s.redo(), false);
  await s.close();
});

test('a brush stroke is a literal edit: shown at once, undo/redo, replayed exactly, then the mask prompt of its slice', async () => {
  const s = await open();
  await s.addPrompt(1, 2, { box: [0, 0, 7, 5] });
  await s.propagate();
  assert.equal(area(s.mask(1, 3)), 6);
  const tracker = trackers[trackers.length - 1]!;
  const promptsBefore = tracker.given.length;

  // Paint a 1-px-radius line across row 4 of slice 3 (outside the bright block), then erase a dab.
  const painted = await s.edit(1, 3, {
    stroke: {
      points: [
        { x: 0, y: 4 },
        { x: 7, y: 4 },
      ],
      radius: 0,
      mode: 'paint',
    },
  });
  assert.equal(painted.area, 6 + 8);
  assert.equal(tracker.given.length, promptsBefore, 'no model ran for the edit');
  const erased = await s.edit(1, 3, { stroke: { points: [{ x: 3, y: 1.5 }], radius: 1, mode: 'erase' } });
  const expected = applyStroke(painted.mask, 6, 8, { points: [{ x: 3, y: 1.5 }], radius: 1, mode: 'erase' });
  assert.deepEqual([...erased.mask], [...expected]);
  assert.ok(erased.area < painted.area);
  assert.deepEqual([...s.mask(1, 3)!], [...expected], 'mask() shows the literal edit');
  assert.deepEqual(
    s.history().map((i) => i.kind),
    ['prompt', 'propagate', 'edit', 'edit'],
  );

  // Undo / redo of an edit.
  await s.undo();
  assert.deepEqual([...s.mask(1, 3)!], [...painted.mask]);
  await s.redo();
  assert.deepEqual([...s.mask(1, 3)!], [...expected]);

  // A new object drawn by hand (manual mode): an edit on an id that has no prompt.
  const manual = await s.edit(2, 0, { stroke: { points: [{ x: 6, y: 4 }], radius: 1, mode: 'paint' } });
  assert.ok(manual.area >= 5);
  assert.deepEqual(
    s.objects.map((o) => [o.objId, o.keys, o.slices]),
    [
      [1, [2, 3], [1, 2, 3]],
      [2, [0], [0]],
    ],
  );

  // Replay from JSON (what a server stores), with the redo stack.
  await s.undo();
  const json = JSON.parse(JSON.stringify(s.history().map(interactionToJson))) as unknown[];
  const redo = JSON.parse(JSON.stringify(s.redoable().map(interactionToJson))) as unknown[];
  const r = await Session.fromHistory(
    volume(),
    json.map((j) => interactionFromJson(j)),
    { model: entry, pool: new ModelPool({ idleMs: 0 }) },
    redo.map((j) => interactionFromJson(j)),
  );
  assert.deepEqual([...r.labelMap().data], [...s.labelMap().data]);
  assert.equal(await r.redo(), true, 'the replayed session can redo the undone edit');
  assert.equal(await s.redo(), true);
  assert.deepEqual([...r.labelMap().data], [...s.labelMap().data]);
  await r.close();

  // Re-propagation: the edited slice goes to the tracker as its mask prompt, and stays as drawn.
  await s.propagate({ objIds: [1] });
  const gave = tracker.given.filter((g) => g.mask);
  assert.ok(
    gave.some((g) => g.objId === 1 && g.frame === 3),
    `the tracker was given slice 3's edit as a mask prompt (${JSON.stringify(tracker.given)})`,
  );
  assert.deepEqual([...s.mask(1, 3)!], [...expected], 'the edited slice keeps its literal mask');
  assert.deepEqual([...s.mask(1, 4)!], [...expected], 'the slice after it follows the edit (the fake carries mask keys)');
  // A box on the edited slice hands it back to the model.
  await s.addPrompt(1, 3, { box: [0, 0, 7, 5] }, { replace: true });
  assert.equal(area(s.mask(1, 3)), 6);

  await assert.rejects(s.edit(1, 9, { mask: new Uint8Array(48) }), /slice 9 is outside/);
  await assert.rejects(s.edit(1, 1, { mask: new Uint8Array(47) }), /47 pixels/);
  await assert.rejects(s.edit(1, 1, { stroke: { points: [], radius: 1, mode: 'paint' } }), /brush stroke/);
  await s.close();
});

test('prompts on another view: the object lives on that axis (re-sliced), propagates across it, and edits from any view land exactly', async () => {
  const s = await open();
  // Coronal slice y = 1 of the 8×6×5 volume: rows = z (5), cols = x (8); the block is x 2..4, z 1..3 there.
  const m = await s.addPrompt(2, 1, { box: [0, 0, 7, 4] }, { axis: 1 });
  assert.equal(m.area, 9);
  assert.equal(m.mask.length, 5 * 8);
  await assert.rejects(s.addPrompt(2, 2, { box: [0, 0, 7, 5] }), /object 2 was started on the coronal view/);
  await assert.rejects(s.addPrompt(3, 1, { box: [0, 0, 7, 5] }, { axis: 1 }), /outside the image height/);
  await s.propagate();
  const [o] = s.objects;
  assert.equal(o!.axis, 1);
  assert.deepEqual(o!.slices, [1, 2, 3], 'slices along the session axis (z)');
  const lm = s.labelMap().data as Uint8Array;
  let n = 0;
  for (let z = 0; z < 5; z++)
    for (let y = 0; y < 6; y++)
      for (let x = 0; x < 8; x++) {
        const inBlock = z >= 1 && z <= 3 && y >= 1 && y <= 2 && x >= 2 && x <= 4;
        if (lm[z * 48 + y * 8 + x]) n++;
        assert.equal(lm[z * 48 + y * 8 + x], inBlock ? 2 : 0, `voxel ${x},${y},${z}`);
      }
  assert.equal(n, 18);
  // An axial stroke on the coronal object: one voxel (x 6, y 4, z 2) → coronal slice y = 4, row z = 2, col x = 6.
  const e = await s.edit(2, 2, { stroke: { points: [{ x: 6, y: 4 }], radius: 0, mode: 'paint' } }, { axis: 2 });
  assert.equal(e.mask.length, 48, 'the axial slice comes back');
  assert.equal(s.mask(2, 4)![2 * 8 + 6], 1);
  assert.equal((s.labelMap().data as Uint8Array)[2 * 48 + 4 * 8 + 6], 2);
  // Undo / redo / replay keep the axis.
  const json = JSON.parse(JSON.stringify(s.history().map(interactionToJson))) as unknown[];
  const r = await Session.fromHistory(
    volume(),
    json.map((j) => interactionFromJson(j)),
    { model: entry, pool: new ModelPool({ idleMs: 0 }) },
  );
  assert.deepEqual([...r.labelMap().data], [...s.labelMap().data]);
  await r.close();
  await s.undo();
  await s.undo();
  await s.undo();
  assert.deepEqual(s.objects, []);
  await s.redo();
  assert.equal((s.objects as { axis: number }[])[0]!.axis, 1);
  await s.close();
});
