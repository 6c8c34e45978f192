import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dice } from '../../src/metrics/dice.js';
import { readNpz } from '../../src/io/npzFile.js';
import { largestSlice } from '../../src/pipelines/referencePrompt.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { median } from '../../src/projects/activeTime.js';
import { exportRound } from '../../src/projects/exportRound.js';
import { ProjectConflictError } from '../../src/projects/projectRepository.js';
import { ProjectService, parseLabelSpec } from '../../src/projects/projectService.js';
import { buildReport } from '../../src/projects/report.js';
import { writeProjectReport } from '../../src/projects/writeReport.js';
import type { Project } from '../../src/projects/types.js';
import { cropNpzCase } from '../cli/cropCase.js';

/**
 * One whole annotation round through the library API, the same on SQLite and PostgreSQL:
 * two annotators (alice, bob) and a reviewer (rev) on cropped CT-lesion cases; a scripted
 * annotator corrects the pre-annotation towards the case's reference mask (one brush stroke per
 * 40 wrong voxels on each wrong slice, 4 s apart); a manual case is painted from scratch (one
 * stroke per 40 voxels, 5 s apart). Interaction times are a simulated clock, so every number the
 * report gives can be recomputed here from the schedule. Simulated strokes are not people.
 */

export const LESION_DIR = '../shared/data/ct-lesion';
export const LESION_CASES = ['CT_Lesion_000001_02_01_008-023', 'CT_Lesion_000002_03_01_035-047', 'CT_Lesion_000009_03_01_036-048'];

/** Crops each case to 3 slices around its largest lesion slice (the model runs ~2-8 s per slice here). */
export async function cropLesionCases(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of LESION_CASES) {
    const src = join(LESION_DIR, `${name}.npz`);
    const a = await readNpz(src);
    const g = a.gts!;
    const k = largestSlice(g.data as ArrayLike<number>, [g.shape[2]!, g.shape[1]!, g.shape[0]!]);
    const dst = join(dir, `${name.slice(0, 16)}.npz`);
    await cropNpzCase(src, dst, Math.max(0, k - 1), Math.min(g.shape[0]! - 1, k + 1));
    out.push(dst);
  }
  return out;
}

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

interface Stroke {
  slice: number;
  dtMs: number;
}

/** Strokes that turn `from` into `to`: per slice, one per 40 differing voxels (at least one when any differ). */
function strokesFor(from: Uint8Array, to: Uint8Array, dims: [number, number, number], dtMs: number): Stroke[] {
  const plane = dims[0] * dims[1];
  const out: Stroke[] = [];
  for (let z = 0; z < dims[2]; z++) {
    let wrong = 0;
    for (let i = z * plane; i < (z + 1) * plane; i++) if ((from[i] ? 1 : 0) !== (to[i] ? 1 : 0)) wrong++;
    for (let s = 0; s < Math.ceil(wrong / 40); s++) out.push({ slice: z, dtMs });
  }
  return out;
}

export interface RoundExpectations {
  activeSeconds: Map<string, number>;
  interactions: Map<string, number>;
  preDsc: Map<string, number>;
}

export interface RoundResult {
  project: Project;
  expected: RoundExpectations;
  /** The model's version-0 masks by case, to reuse on another backend. */
  preMasks: Map<string, Uint8Array>;
}

/**
 * Runs the round. `preAnnotate` stores version 0 of every assisted case (the real model on the
 * first backend; the same masks through storePreAnnotation on the second, to keep CI lean).
 */
export async function runRound(
  svc: ProjectService,
  files: string[],
  outDir: string,
  preAnnotate: (p: Project) => Promise<void>,
): Promise<RoundResult> {
  const project = await svc.createProject({
    name: 'ct-lesions',
    labels: [parseLabelSpec('lesion:#ff3b30:52988006', 1)],
    model: 'minisam',
    modelVersion: 'builtin-1',
    guidelines: 'Outline the whole lesion on every slice.',
    members: [
      { name: 'alice', role: 'annotator' },
      { name: 'bob', role: 'annotator' },
      { name: 'rev', role: 'reviewer' },
    ],
  });
  const [fa, fb, fc] = files as [string, string, string];
  const assisted = await svc.addCases(project, [fa, fb]);
  const [manual] = await svc.addCases(project, [fc], { mode: 'manual' });
  assert.equal(assisted.length, 2);
  await assert.rejects(svc.addCases(project, [fa]), /already has a case/);
  await assert.rejects(svc.claim(project, assisted[0]!.name, 'alice'), /no pre-annotation yet/);

  await preAnnotate(project);
  const preMasks = new Map<string, Uint8Array>();
  const reference = new Map<string, Uint8Array>();
  for (const c of [...assisted, manual!]) {
    const { label } = await loadCase(c.source);
    reference.set(
      c.name,
      Uint8Array.from(label!.data as ArrayLike<number>, (v) => (v ? 1 : 0)),
    );
  }
  const expected: RoundExpectations = { activeSeconds: new Map(), interactions: new Map(), preDsc: new Map() };
  for (const c of assisted) {
    const v = await svc.mask(project, c.name, 0);
    assert.equal(v.version.author.kind, 'model');
    preMasks.set(c.name, v.labels);
    expected.preDsc.set(c.name, dice(v.labels, reference.get(c.name)!));
  }

  // The queue: alice and bob each get a different pre-annotated case; a reviewer cannot claim.
  const caseA = (await svc.nextCase(project, 'alice'))!.name;
  await svc.claim(project, caseA, 'alice');
  const caseB = (await svc.nextCase(project, 'bob'))!.name;
  assert.notEqual(caseA, caseB);
  await assert.rejects(svc.claim(project, caseA, 'bob'), /claimed by alice/);
  await assert.rejects(svc.claim(project, caseB, 'rev'), /not annotator/);
  await svc.claim(project, caseB, 'bob');

  /**
   * Logs the strokes on the simulated clock from `start`; returns the active seconds they add,
   * counted here by hand: each gap since the same person's previous interaction on the case,
   * capped at the idle threshold (so a later session's first stroke adds at most the cap).
   */
  const last = new Map<string, number>();
  const work = async (caseName: string, user: string, strokes: Stroke[], start: number): Promise<number> => {
    let t = start;
    let ms = 0;
    for (const s of strokes) {
      t += s.dtMs;
      const prev = last.get(`${caseName}/${user}`);
      if (prev !== undefined) ms += Math.min(t - prev, project.idleSeconds * 1000);
      last.set(`${caseName}/${user}`, t);
      await svc.logInteraction(project, caseName, user, 'brush', s.slice, t);
    }
    return ms / 1000;
  };

  const dims = (name: string) => [...assisted, manual!].find((c) => c.name === name)!.dims;
  // alice corrects A with a 10-minute pause in the middle (counted as 60 s, the idle cap).
  const strokesA = strokesFor(preMasks.get(caseA)!, reference.get(caseA)!, dims(caseA), 4000);
  strokesA.splice(Math.floor(strokesA.length / 2), 0, { slice: strokesA[0]?.slice ?? 0, dtMs: 600_000 });
  let secA = await work(caseA, 'alice', strokesA, T0);
  const a1 = await svc.save(project, caseA, 'alice', reference.get(caseA)!, 0);
  assert.equal(a1.version, 1);
  // A stale save (based on version 0, after version 1) is a conflict, never an overwrite.
  await assert.rejects(
    svc.save(project, caseA, 'alice', preMasks.get(caseA)!, 0),
    (e) => e instanceof ProjectConflictError && e.status === 409,
  );
  // Two saves racing from the same base: exactly one wins.
  const race = await Promise.allSettled([
    svc.save(project, caseA, 'alice', reference.get(caseA)!, 1, 'race 1'),
    svc.save(project, caseA, 'alice', reference.get(caseA)!, 1, 'race 2'),
  ]);
  assert.deepEqual(race.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  assert.ok((race.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason instanceof ProjectConflictError);
  await svc.submit(project, caseA, 'alice');

  const strokesB = strokesFor(preMasks.get(caseB)!, reference.get(caseB)!, dims(caseB), 4000);
  const secB = await work(caseB, 'bob', strokesB, T0 + 3_600_000);
  await svc.save(project, caseB, 'bob', reference.get(caseB)!, 0);
  await assert.rejects(svc.review(project, caseB, 'rev', 'return'), /needs a comment/);
  await svc.submit(project, caseB, 'bob');

  // The reviewer returns A; alice gets it back first, restores version 1 (a new version) and resubmits.
  await assert.rejects(svc.review(project, caseA, 'alice', 'accept'), /not reviewer/);
  await svc.review(project, caseA, 'rev', 'return', 'check the lesion border on the top slice');
  assert.equal((await svc.nextCase(project, 'alice'))!.name, caseA);
  await svc.claim(project, caseA, 'alice');
  secA += await work(
    caseA,
    'alice',
    [
      { slice: 0, dtMs: 1000 },
      { slice: 1, dtMs: 3000 },
      { slice: 2, dtMs: 2000 },
    ],
    T0 + 7_200_000,
  );
  const restored = await svc.restore(project, caseA, 'alice', 1, 2);
  assert.equal(restored.version, 3);
  assert.equal(restored.restoredFrom, 1);
  assert.equal(restored.maskSha, a1.maskSha);
  await svc.submit(project, caseA, 'alice');
  await svc.review(project, caseA, 'rev', 'accept');
  await svc.review(project, caseB, 'rev', 'accept');
  const dA = await svc.diff(project, caseA, 0, 3);
  assert.ok(Math.abs(dA.dsc - expected.preDsc.get(caseA)!) < 1e-12);

  // The manual baseline: bob paints case C from an empty start.
  const mName = manual!.name;
  assert.equal((await svc.nextCase(project, 'bob'))!.name, mName);
  await svc.claim(project, mName, 'bob');
  const empty = new Uint8Array(reference.get(mName)!.length);
  const secC = await work(mName, 'bob', strokesFor(empty, reference.get(mName)!, dims(mName), 5000), T0 + 10_800_000);
  const c0 = await svc.save(project, mName, 'bob', reference.get(mName)!, -1);
  assert.equal(c0.version, 0);
  assert.equal(c0.author.kind, 'person');
  await svc.submit(project, mName, 'bob');
  await svc.review(project, mName, 'rev', 'accept');

  expected.activeSeconds.set(caseA, secA).set(caseB, secB).set(mName, secC);
  expected.interactions
    .set(caseA, strokesA.length + 3)
    .set(caseB, strokesB.length)
    .set(mName, strokesFor(empty, reference.get(mName)!, dims(mName), 5000).length);

  // The report's numbers against the log.
  const r = await buildReport(svc, project);
  assert.equal(r.cases.length, 3);
  for (const row of r.cases) {
    assert.ok(Math.abs(row.activeSeconds - expected.activeSeconds.get(row.case)!) < 1e-9, `${row.case} active seconds`);
    assert.equal(row.interactions, expected.interactions.get(row.case), `${row.case} interactions`);
    if (row.mode === 'assisted') assert.ok(Math.abs(row.preDsc! - expected.preDsc.get(row.case)!) < 1e-12, `${row.case} DSC`);
    else assert.equal(row.preDsc, null);
  }
  const [round] = r.rounds;
  const wantSaved = 1 - median([secA, secB])! / secC;
  assert.ok(Math.abs(round!.costSaved! - wantSaved) < 1e-12, `cost saved ${round!.costSaved} vs ${wantSaved}`);
  assert.deepEqual(
    r.groups.filter((g) => g.kind === 'annotator').map((g) => [g.group, g.cases]),
    [
      ['alice (assisted)', 1],
      ['bob (assisted)', 1],
      ['bob (manual)', 1],
    ],
  );
  const files2 = writeProjectReport(join(outDir, 'report'), r);
  const html = readFileSync(files2.find((f) => f.endsWith('.html'))!, 'utf8');
  assert.match(html, /<svg[^>]*Active time per case/);
  assert.match(html, new RegExp(`${(100 * wantSaved).toFixed(0)} %`));
  assert.throws(() => writeProjectReport(join(outDir, 'report'), r), /not empty/);

  // Export: the accepted labels as MedSAM2 training npz, traced in the manifest.
  const exported = await exportRound(svc, project, 1, 'medsam2-npz', join(outDir, 'export'));
  assert.equal(exported.length, 4);
  const npz = await readNpz(join(outDir, 'export', `${caseB}.npz`));
  assert.deepEqual(Array.from(npz.gts!.data as Uint8Array), Array.from(reference.get(caseB)!));
  const src = await readNpz(assisted.find((c) => c.name === caseB)!.source);
  assert.deepEqual(npz.imgs!.shape, src.imgs!.shape);
  assert.deepEqual(Array.from(npz.imgs!.data as Uint8Array), Array.from(src.imgs!.data as Uint8Array));
  const manifest = JSON.parse(readFileSync(join(outDir, 'export', 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.cases.map((c: { case: string }) => c.case).sort(), [caseA, caseB, mName].sort());
  assert.equal(manifest.cases.find((c: { case: string }) => c.case === caseA).acceptedVersion, 3);
  assert.ok(existsSync(join(outDir, 'report', 'report.html')));
  return { project, expected, preMasks };
}
