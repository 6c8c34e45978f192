import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';
import { PNG_SOFTWARE_TAG, writePngMask } from '../io/imageFile.js';
import { writeNpz } from '../io/npzFile.js';
import { writeVideo } from '../io/video.js';
import { IDENTITY_DIRECTION } from '../io/volume.js';
import { overlayFrame } from './videoOverlay.js';

/** What `medsam2 video -o out/` writes into out/. */
export const VIDEO_OUTPUTS = { masks: 'masks', npz: 'masks.npz', overlay: 'overlay.mp4' } as const;

const MASK_PNG = /^\d{5,}\.png$/;

export interface VideoOutputData {
  width: number;
  height: number;
  fps: number;
  /** RGB frames (for the overlay) and their label maps, same count. */
  frames: readonly Uint8Array[];
  labels: readonly Uint8Array[];
  /** Frame names (input file names without extension); masks/<name>.png. Default 00000, 00001, … */
  names?: readonly string[];
}

export function maskPngName(frame: number): string {
  return `${String(frame).padStart(5, '0')}.png`;
}

/** masks/<name>.png for each frame: the input frame names when given, usable and unique, else 00000.png, … */
export function maskPngNames(count: number, names?: readonly string[]): string[] {
  const ok =
    names &&
    names.length === count &&
    names.every((n) => n.length > 0 && !/[\/\\\0]/.test(n) && n !== '.' && n !== '..' && !n.startsWith('.'));
  const out = ok ? names.map((n) => `${n}.png`) : Array.from({ length: count }, (_, i) => maskPngName(i));
  return new Set(out).size === out.length ? out : Array.from({ length: count }, (_, i) => maskPngName(i));
}

/** A mask PNG medsam2 wrote: encodePngMask ends every file with a tEXt "Software: medsam2.js" chunk. */
function isOwnMaskPng(path: string): boolean {
  if (!path.toLowerCase().endsWith('.png')) return false;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const tail = new Uint8Array(Math.min(96, size));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    return new TextDecoder('latin1').decode(tail).includes(PNG_SOFTWARE_TAG);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Checks, before any slow work, that `outDir` can receive the outputs: it is a writable folder or
 * can be created in a writable folder, and an existing out/masks holds only our own frame PNGs
 * (replacing it must never delete files the user put there).
 */
export function checkVideoOutputDir(outDir: string): void {
  const abs = resolve(outDir);
  const parent = dirname(abs);
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory())
      throw new MedsamError(`cannot write outputs to ${outDir}: it is a file`, 'give a folder path for -o (it is created if missing)');
    writable(abs, outDir);
    const masks = join(abs, VIDEO_OUTPUTS.masks);
    if (existsSync(masks)) {
      if (!statSync(masks).isDirectory())
        throw new MedsamError(`cannot write ${masks}: a file has that name`, 'move it away or choose another output folder');
      const foreign = readdirSync(masks).find((f) => !MASK_PNG.test(f) && !isOwnMaskPng(join(masks, f)));
      if (foreign) {
        throw new MedsamError(
          `${masks} holds ${foreign}, which medsam2 did not write, and would be replaced`,
          'move your files away or choose another output folder',
        );
      }
    }
    for (const f of [VIDEO_OUTPUTS.npz, VIDEO_OUTPUTS.overlay]) {
      const p = join(abs, f);
      if (existsSync(p) && statSync(p).isDirectory())
        throw new MedsamError(`cannot write ${p}: a folder has that name`, 'move it away or choose another output folder');
    }
    return;
  }
  if (!existsSync(parent))
    throw new MedsamError(
      `cannot write outputs to ${outDir}: folder ${parent} does not exist`,
      'create it first or choose another output folder',
    );
  if (!statSync(parent).isDirectory())
    throw new MedsamError(`cannot write outputs to ${outDir}: ${parent} is not a folder`, 'choose another output folder');
  writable(parent, outDir);
}

function writable(dir: string, outDir: string): void {
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new MedsamError(`cannot write outputs to ${outDir}: folder ${dir} is not writable`, 'choose a writable folder');
  }
}

/**
 * Writes masks/<frame name>.png (label values; the input frame names, else <index:05d>.png), masks.npz (`segs` (N,H,W) uint8) and overlay.mp4.
 * Everything is written into a hidden staging folder beside `outDir` and moved in at the end, so
 * a failure leaves neither partial files nor a half-written out/; an existing out/ keeps its other
 * files, and its previous outputs are replaced only once the new ones are complete.
 */
export async function writeVideoOutputs(outDir: string, data: VideoOutputData): Promise<string[]> {
  const { width: W, height: H, frames, labels } = data;
  if (frames.length !== labels.length || frames.length === 0) {
    throw new MedsamError(`${frames.length} frames but ${labels.length} masks`, 'this is a bug; please report it');
  }
  checkVideoOutputDir(outDir);
  const abs = resolve(outDir);
  const stage = join(dirname(abs), `.${basename(abs)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    mkdirSync(join(stage, VIDEO_OUTPUTS.masks), { recursive: true });
    const names = maskPngNames(labels.length, data.names);
    for (const [i, l] of labels.entries()) {
      writePngMask(join(stage, VIDEO_OUTPUTS.masks, names[i]!), {
        data: l,
        dims: [W, H, 1],
        spacing: [1, 1, 1],
        origin: [0, 0, 0],
        direction: [...IDENTITY_DIRECTION],
        source: { format: 'png', path: names[i]! },
      });
    }
    const segs = new Uint8Array(labels.length * W * H);
    labels.forEach((l, i) => segs.set(l, i * W * H));
    await writeNpz(
      join(stage, VIDEO_OUTPUTS.npz),
      { segs: { dtype: 'uint8', shape: [labels.length, H, W], data: segs } },
      { compress: true },
    );
    await writeVideo(
      join(stage, VIDEO_OUTPUTS.overlay),
      frames.map((f, i) => overlayFrame(f, labels[i]!, W, H)),
      W,
      H,
      data.fps,
    );
    if (!existsSync(abs)) {
      renameSync(stage, abs);
    } else {
      // Move the previous outputs aside into the staging folder, then the new ones in.
      const old = join(stage, '.previous');
      mkdirSync(old);
      for (const name of Object.values(VIDEO_OUTPUTS)) {
        const target = join(abs, name);
        if (existsSync(target)) renameSync(target, join(old, name));
        renameSync(join(stage, name), target);
      }
      rmSync(stage, { recursive: true, force: true });
    }
  } catch (e) {
    restorePrevious(join(stage, '.previous'), abs);
    rmSync(stage, { recursive: true, force: true });
    if (e instanceof MedsamError) throw e;
    throw new MedsamError(
      `cannot write outputs to ${outDir}: ${errorMessage(e)}`,
      'check that the folder is writable and the disk has space',
    );
  }
  return Object.values(VIDEO_OUTPUTS).map((n) => join(outDir, n));
}

/** After a failed swap, put back any previous output that was already moved aside. */
function restorePrevious(old: string, abs: string): void {
  if (!existsSync(old)) return;
  for (const name of readdirSync(old)) {
    const target = join(abs, name);
    try {
      if (existsSync(target)) rmSync(target, { recursive: true, force: true });
      renameSync(join(old, name), target);
    } catch {
      // Best effort: the original error is what the user needs to see.
    }
  }
}
