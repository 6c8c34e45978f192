import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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
  if (!existsSync(dir)) throw new MedsamError(`cannot write ${what} ${path}: folder ${dir} does not exist`, 'create the folder first or choose another path');
  if (!statSync(dir).isDirectory()) throw new MedsamError(`cannot write ${what} ${path}: ${dir} is not a folder`, 'choose another output path');
  if (existsSync(path) && statSync(path).isDirectory()) throw new MedsamError(`cannot write ${what} ${path}: it is a folder`, 'give a file name');
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new MedsamError(`cannot write ${what} ${path}: folder ${dir} is not writable`, 'choose a writable folder');
  }
}

export const MASK_EXTENSIONS = ['.nii.gz', '.nii', '.nrrd', '.npz', '.png', '.dcm'] as const;
