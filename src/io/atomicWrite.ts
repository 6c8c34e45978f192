import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';

/** Fail early, with a fix, when `path` cannot become a file. */
export function assertWritableTarget(path: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir))
    throw new MedsamError(`cannot write ${path}: folder ${dir} does not exist`, 'create the folder or choose another output path');
  if (!statSync(dir).isDirectory()) throw new MedsamError(`cannot write ${path}: ${dir} is not a folder`, 'choose another output path');
  if (existsSync(path) && statSync(path).isDirectory())
    throw new MedsamError(`cannot write ${path}: a folder has that name`, 'choose another output file name');
}

/** A hidden sibling of `path` (same folder, so the final rename is atomic), keeping the extension. */
export function tempPathFor(path: string): string {
  const abs = resolve(path);
  return join(dirname(abs), `.${basename(abs)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}${extname(abs)}`);
}

/**
 * Run `write(tmp)` then rename tmp → path: a crash or a full disk never leaves a half-written
 * file under the final name. Any failure removes the temp file and becomes a MedsamError.
 */
export async function writeViaTemp(path: string, write: (tmp: string) => void | Promise<void>): Promise<void> {
  assertWritableTarget(path);
  const tmp = tempPathFor(path);
  try {
    await write(tmp);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof MedsamError) throw e;
    throw new MedsamError(`cannot write ${path}: ${errorMessage(e)}`, 'check that the folder is writable and the disk has space');
  }
}

/** Synchronous form for writers that have the whole file in memory. */
export function writeFileAtomic(path: string, bytes: Uint8Array | readonly Uint8Array[]): void {
  assertWritableTarget(path);
  const tmp = tempPathFor(path);
  try {
    const parts = bytes instanceof Uint8Array ? [bytes] : bytes;
    writeFileSync(tmp, parts.length === 1 ? parts[0] : Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new MedsamError(`cannot write ${path}: ${errorMessage(e)}`, 'check that the folder is writable and the disk has space');
  }
}
