import { readFileSync } from 'node:fs';
import { MedsamError } from '../common/errors.js';
import type { LoadedCase } from '../pipelines/loadCase.js';
import { promptFromReference } from '../pipelines/referencePrompt.js';
import { segmentVolume } from '../pipelines/segmentVolume.js';
import type { VolumePrompt } from '../predictor/prompts.js';
import type { ProjectService } from './projectService.js';
import type { CaseRow, Project } from './types.js';

/**
 * Pre-annotation as a batch: every new assisted case of a round is segmented by the model from
 * prompts the case carries and stored as version 0, authored by the model and its version.
 * - 'recist': the MedSAM2 npz `recist` line marks (how MedSAM2 built its CT-lesion set); a case
 *   without them gets the RECIST line measured on its label (longest diameter on the key slice);
 * - 'label-box': the key-slice box of the label the case carries (npz `gts`), an automatic
 *   policy for re-annotating or simulating;
 * - 'boxes': a JSON file {"caseName": [{"slice": 7, "box": [x0, y0, x1, y1]}, …], …};
 * - 'previous': the key-slice box of the accepted label of the same image in an earlier round
 *   (re-annotating with a fine-tuned model).
 */
export type PromptSource = 'recist' | 'label-box' | 'boxes' | 'previous';
export const PROMPT_SOURCES: readonly PromptSource[] = ['recist', 'label-box', 'boxes', 'previous'];

export interface PreAnnotateOptions {
  round?: number;
  prompts: PromptSource;
  boxesFile?: string;
  /** The box list itself (the server's request body), instead of boxesFile. */
  boxes?: Record<string, VolumePrompt[]>;
  /** Default: the project's model and version. */
  model?: string;
  modelVersion?: string;
  /** Label value written (default: the project's first label). */
  label?: number;
  threads?: number;
  onCase?: (c: CaseRow, done: number, total: number, seconds: number) => void;
}

function readBoxes(path: string): Record<string, VolumePrompt[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new MedsamError(
      `cannot read the box list ${path}: ${(e as Error).message}`,
      'give a JSON file {"case": [{"slice": 7, "box": [x0, y0, x1, y1]}]}',
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new MedsamError(`${path} is not a JSON object of case name → prompts`, 'write {"case": [{"slice": 7, "box": [x0, y0, x1, y1]}]}');
  return parsed as Record<string, VolumePrompt[]>;
}

export async function promptsForCase(
  svc: Pick<ProjectService, 'loadCase'>,
  c: CaseRow,
  source: PromptSource,
  objId: number,
  boxes?: Record<string, VolumePrompt[]>,
  previous?: Uint8Array,
): Promise<{ prompts: VolumePrompt[]; image: LoadedCase['image'] }> {
  const loaded = await svc.loadCase(c.source);
  if (source === 'previous') {
    if (!previous)
      throw new MedsamError(
        `case ${c.name} has no accepted label of the same image in an earlier round`,
        'use --prompts recist, label-box or boxes for it',
      );
    return { prompts: [promptFromReference('key-box', { reference: previous, dims: loaded.image.dims, objId })], image: loaded.image };
  }
  if (source === 'boxes') {
    const list = boxes?.[c.name];
    if (!list?.length)
      throw new MedsamError(`the box list has no prompt for case ${c.name}`, 'add it to the file, or pre-annotate that case another way');
    return { prompts: list.map((p) => ({ ...p, objId })), image: loaded.image };
  }
  const reference = loaded.label?.data ?? loaded.recist?.data;
  if (!reference)
    throw new MedsamError(
      `case ${c.name} carries neither RECIST marks nor a label to take a prompt from`,
      'use --prompts boxes --boxes FILE',
    );
  const p = promptFromReference(source === 'recist' ? 'recist' : 'key-box', {
    reference: reference as ArrayLike<number>,
    dims: loaded.image.dims,
    recist: loaded.recist?.data as ArrayLike<number> | undefined,
    objId,
  });
  return { prompts: [p], image: loaded.image };
}

/** Pre-annotates the round's new assisted cases; returns how many were stored. */
export async function preAnnotateRound(svc: ProjectService, project: Project, opts: PreAnnotateOptions): Promise<number> {
  const model = opts.model ?? project.model;
  const modelVersion = opts.modelVersion ?? project.modelVersion;
  const objId = opts.label ?? project.labels[0]!.value;
  if (!project.labels.some((l) => l.value === objId))
    throw new MedsamError(
      `label ${objId} is not in project ${project.name}`,
      `use one of ${project.labels.map((l) => `${l.value} (${l.name})`).join(', ')}`,
    );
  const boxes =
    opts.prompts === 'boxes'
      ? (opts.boxes ??
        readBoxes(
          opts.boxesFile ??
            (() => {
              throw new MedsamError('--prompts boxes needs --boxes FILE', 'give the JSON box list');
            })(),
        ))
      : undefined;
  const todo = (await svc.repo.listCases(project.id, { round: opts.round, state: 'new' })).filter((c) => c.mode === 'assisted');
  let done = 0;
  for (const c of todo) {
    const t0 = performance.now();
    const { prompts, image } = await promptsForCase(
      svc,
      c,
      opts.prompts,
      objId,
      boxes,
      opts.prompts === 'previous' ? await previousLabel(svc, project, c) : undefined,
    );
    const r = await segmentVolume(image, prompts, { model, threads: opts.threads });
    const labels = r.mask.data instanceof Uint8Array ? r.mask.data : Uint8Array.from(r.mask.data as ArrayLike<number>, Number);
    await svc.storePreAnnotation(project, c.name, labels, model, modelVersion);
    done++;
    opts.onCase?.(c, done, todo.length, (performance.now() - t0) / 1000);
  }
  return done;
}

/** The accepted label of the same image file in the latest earlier round, if any. */
async function previousLabel(svc: ProjectService, project: Project, c: CaseRow): Promise<Uint8Array | undefined> {
  const earlier = (await svc.repo.listCases(project.id, { state: 'accepted' }))
    .filter((x) => x.source === c.source && x.round < c.round)
    .sort((a, b) => b.round - a.round);
  return earlier[0] ? (await svc.mask(project, earlier[0].name)).labels : undefined;
}
