import type { Command } from 'commander';
import { MedsamError } from '../common/errors.js';
import { DEFAULT_MAX_VOXELS } from '../io/readLimits.js';
import type { SliceAxis } from '../preprocess/slices.js';
import type { Box, PointPrompt } from '../predictor/prompts.js';
import type { ModelEntry } from '../models/registry.js';

/** Parsers for CLI option values; each failure names the option, the bad value and the expected form. */

function numbers(option: string, text: string, count: number[], form: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const vals = parts.map(Number);
  if (!count.includes(parts.length) || parts.some((p) => p === '') || vals.some((v) => !Number.isFinite(v))) {
    throw new MedsamError(`${option} '${text}' is malformed`, `expected ${form}`);
  }
  return vals;
}

/** 'x0,y0,x1,y1' → Box (voxel indices; x = column, y = row of the slice). */
export function parseBox(text: string, option = '--box'): Box {
  return numbers(option, text, [4], 'x0,y0,x1,y1 in voxel indices, e.g. 120,88,200,170') as Box;
}

/** 'x,y' or 'x,y,label' (label 1 = object, default; 0 = background). */
export function parsePoint(text: string): PointPrompt {
  const v = numbers('--point', text, [2, 3], 'x,y or x,y,label with label 1 (object) or 0 (background)');
  const label = v.length === 3 ? v[2]! : 1;
  if (label !== 0 && label !== 1) throw new MedsamError(`--point '${text}' has label ${label}`, 'use 1 (object) or 0 (background)');
  return { x: v[0]!, y: v[1]!, label };
}

/** Non-negative integer option. */
export function parseIndex(option: string, text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v))
    throw new MedsamError(`${option} '${text}' is not a non-negative integer`, `give ${option} as a whole number, e.g. ${option} 7`);
  return v;
}

export function parsePositiveInt(option: string, text: string): number {
  const v = parseIndex(option, text);
  if (v < 1) throw new MedsamError(`${option} must be at least 1, got ${text}`, `give ${option} as a whole number >= 1`);
  return v;
}

export function parsePositiveNumber(option: string, text: string): number {
  const v = Number(text);
  if (!(v > 0) || !Number.isFinite(v)) throw new MedsamError(`${option} '${text}' is not a positive number`, `e.g. ${option} 2`);
  return v;
}

/** x|y|z (or 0|1|2) → slice axis. */
export function parseAxis(text: string): SliceAxis {
  const t = text.trim().toLowerCase();
  const map: Record<string, SliceAxis> = { x: 0, y: 1, z: 2, '0': 0, '1': 1, '2': 2 };
  const a = map[t];
  if (a === undefined)
    throw new MedsamError(`--axis '${text}' is not x, y or z`, 'use z for axial stacks (the usual case), y or x to slice the other ways');
  return a;
}

/** commander helper for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * --memory recent|self-sorting (SAM2 family only): upstream's most-recent-frames memory bank, or the
 * Medical-SAM2 self-sorting bank (slots chosen by confidence and dissimilarity).
 */
export function parseMemoryMode(text: string | undefined, model: ModelEntry): 'recent' | 'self-sorting' | undefined {
  if (text === undefined) return undefined;
  if (text !== 'recent' && text !== 'self-sorting')
    throw new MedsamError(`--memory '${text}' is not a memory mode`, 'use --memory recent or --memory self-sorting');
  if (model.family !== 'sam2') {
    throw new MedsamError(
      `--memory applies to SAM2-family models, and '${model.id}' is a ${model.family} model`,
      'import a SAM2/MedSAM2 checkpoint (medsam2 models import) and pass --model <its id>, or drop --memory',
    );
  }
  return text;
}

/** --fill-holes <px> (SAM2 family only): fill background holes up to this area in low-res masks (upstream default 8; 0 = off). */
export function parseFillHoles(text: string | undefined, model: ModelEntry): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0)
    throw new MedsamError(`--fill-holes '${text}' is not a whole number of pixels`, 'e.g. --fill-holes 8, or 0 to turn hole filling off');
  if (model.family !== 'sam2') {
    throw new MedsamError(
      `--fill-holes applies to SAM2-family models, and '${model.id}' is a ${model.family} model`,
      'drop --fill-holes or pass --model <an imported SAM2 id>',
    );
  }
  return v;
}

/** Flags that choose what is read from an input and how much may be read. */
export interface ReadFlags {
  volume?: string;
  series?: string;
  maxVoxels?: string;
}

/** --volume, --series and --max-voxels, declared once for every command that reads one image. */
export function addReadOptions(cmd: Command): Command {
  return cmd
    .option('--volume <n>', '4D NIfTI: which 3D volume to read (0-based)')
    .option(
      '--series <uid|index>',
      'DICOM folder with several series: the SeriesInstanceUID (a unique suffix, or its index in the listing) to read',
    )
    .option('--max-voxels <n>', `refuse images declaring more voxels than this (default ${DEFAULT_MAX_VOXELS}, or MEDSAM2_MAX_VOXELS)`);
}

/** The read options those flags give (undefined fields: library defaults / MEDSAM2_MAX_VOXELS). */
export function parseReadOptions(flags: ReadFlags): { frame?: number; series?: string; maxVoxels?: number } {
  const out: { frame?: number; series?: string; maxVoxels?: number } = {};
  if (flags.volume !== undefined) out.frame = parseIndex('--volume', flags.volume);
  if (flags.series !== undefined) {
    if (!flags.series.trim())
      throw new MedsamError('--series is empty', 'give the SeriesInstanceUID (or a unique suffix) the error message listed');
    out.series = flags.series.trim();
  }
  if (flags.maxVoxels !== undefined) out.maxVoxels = parsePositiveInt('--max-voxels', flags.maxVoxels);
  return out;
}
