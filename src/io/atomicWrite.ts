import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';

/**
 * Write to a temp file in the target's folder, then rename: a crash or a full disk never
 * leaves a half-written mask under the final name (rename within one folder is atomic).
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | readonly Uint8Array[]): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir)) throw new MedsamError(`cannot write ${path}: folder ${dir} does not exist`, 'create the folder or choose another output path');
  if (!statSync(dir).isDirectory()) throw new MedsamError(`cannot write ${path}: ${dir} is not a folder`, 'choose another output path');
  if (existsSync(path) && statSync(path).isDirectory()) throw new MedsamError(`cannot write ${path}: a folder has that name`, 'choose another output file name');
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    const parts = bytes instanceof Uint8Array ? [bytes] : bytes;
    writeFileSync(tmp, parts.length === 1 ? parts[0] : Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new MedsamError(`cannot write ${path}: ${errorMessage(e)}`, 'check that the folder is writable and the disk has space');
  }
}
