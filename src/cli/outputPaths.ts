import { accessSync, constants, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { MedsamError } from '../common/errors.js';

/**
 * Checks, before any slow work, that `path` can be created: its folder exists, is a folder and is
 * writable, the path is not a folder, and the extension is one we write. The write itself is
 * still atomic (temp file + rename), so this only moves the failure earlier.
 */
export function checkOutputPath(path: string, what: string, extensions: readonly string[]): void {
  const lower = path.toLowerCase();
  if (!extensions.some((e) => lower.endsWith(e))) {
    throw new MedsamError(`${what} ${path} has an unsupported extension`, `use one of ${extensions.join(', ')}`);
  }
  const dir = dirname(resolve(path));
  if (!existsSync(dir))
    throw new MedsamError(`cannot write ${what} ${path}: folder ${dir} does not exist`, 'create the folder first or choose another path');
  if (!statSync(dir).isDirectory())
    throw new MedsamError(`cannot write ${what} ${path}: ${dir} is not a folder`, 'choose another output path');
  if (existsSync(path) && statSync(path).isDirectory())
    throw new MedsamError(`cannot write ${what} ${path}: it is a folder`, 'give a file name');
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new MedsamError(`cannot write ${what} ${path}: folder ${dir} is not writable`, 'choose a writable folder');
  }
}

/**
 * Checks, before any slow work, that the folder `path` (named by `flag`) can receive files: it is
 * a writable folder, or it can be created (its nearest existing ancestor is a writable folder).
 */
export function checkOutputFolder(flag: string, path: string): void {
  const abs = resolve(path);
  let dir = abs;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) {
    throw new MedsamError(
      dir === abs ? `${flag} ${path} is a file, not a folder` : `cannot create ${flag} folder ${path}: ${dir} is a file`,
      `give ${flag} a folder path (it is created if missing)`,
    );
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new MedsamError(`cannot write into ${flag} ${path}: folder ${dir} is not writable`, 'choose a writable folder');
  }
}

export const MASK_EXTENSIONS = ['.nii.gz', '.nii', '.nrrd', '.npz', '.png', '.dcm'] as const;

/** One thing a command writes: the flag that names it (for the message), the path, file or folder. */
export interface OutputTarget {
  flag: string;
  path: string;
  /** 'folder': the whole folder is (re)placed, so no input may live inside it. */
  kind?: 'file' | 'folder';
}

interface FileId {
  real: string;
  devIno?: string;
  shown: string;
}

/** Most files listed from one input folder (a DICOM series); past this the folder itself still counts. */
const MAX_LISTED = 100_000;

function fileId(path: string, shown = path): FileId | undefined {
  try {
    const real = realpathSync(path);
    const st = statSync(real);
    return { real, devIno: `${st.dev}:${st.ino}`, shown };
  } catch {
    return undefined;
  }
}

/** A path that may not exist yet: its folder's real path + its name. */
function prospectiveReal(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return resolve(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

function listInputs(path: string, ids: FileId[], folders: string[]): void {
  const top = fileId(path);
  if (!top) return;
  if (!statSync(top.real).isDirectory()) {
    ids.push(top);
    return;
  }
  folders.push(top.real);
  const stack = [top.real];
  let listed = 0;
  while (stack.length && listed < MAX_LISTED) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = resolve(dir, n);
      const id = fileId(p, p);
      if (!id) continue;
      if (statSync(id.real).isDirectory()) stack.push(id.real);
      else {
        ids.push(id);
        listed++;
      }
    }
  }
}

function isInside(folder: string, p: string): boolean {
  const rel = relative(folder, p);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The one guard every command runs before writing: no output may resolve to an input file (same
 * real path after symlinks, or same device + inode, which catches hard links), no output folder
 * that is replaced whole may hold an input, and no two outputs may be the same file. Inputs are
 * files or folders (a folder counts with every file below it: a DICOM series, a frame folder).
 * The message names the flag, where it writes, and the input it would destroy.
 */
export function guardOutputs(inputs: readonly string[], outputs: readonly OutputTarget[]): void {
  const ids: FileId[] = [];
  const folders: string[] = [];
  for (const p of inputs) listInputs(p, ids, folders);
  const byReal = new Map(ids.map((i) => [i.real, i]));
  const byDevIno = new Map(ids.filter((i) => i.devIno).map((i) => [i.devIno!, i]));
  const seen = new Map<string, OutputTarget>();
  for (const o of outputs) {
    const real = prospectiveReal(o.path);
    const refuse = (what: string): never => {
      throw new MedsamError(
        `${o.flag} ${o.path} would overwrite ${what}`,
        `write ${o.flag} somewhere else (inputs are never overwritten), e.g. ${suggest(o.path)}`,
      );
    };
    const existing = fileId(o.path);
    const hit = byReal.get(real) ?? (existing?.devIno ? byDevIno.get(existing.devIno) : undefined);
    if (hit) refuse(`the input file ${hit.shown}`);
    if (o.kind === 'folder') {
      const inside = ids.find((i) => isInside(real, i.real));
      if (inside) refuse(`the folder holding the input file ${inside.shown}`);
      const folder = folders.find((f) => isInside(real, f));
      if (folder) refuse(`the input folder ${folder}`);
    } else if (folders.includes(real)) {
      refuse(`the input folder ${real}`);
    }
    const twin = seen.get(real);
    if (twin) throw new MedsamError(`${o.flag} ${o.path} and ${twin.flag} ${twin.path} are the same file`, `give ${o.flag} its own path`);
    seen.set(real, o);
  }
}

function suggest(path: string): string {
  const m = /^(.*?)(\.nii\.gz|\.[^./\\]+)?$/.exec(path)!;
  return `${m[1]}_out${m[2] ?? ''}`;
}
