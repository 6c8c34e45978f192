import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';
import type { BlobCache } from './platform.js';

/**
 * The Node blob cache: one file per key under a root folder (`sam2/<key>/manifest.json` →
 * `<root>/sam2/<key>/manifest.json`), so the on-disk layout is the one the graph cache always had.
 * Writes go to a hidden temp sibling and are renamed into place (atomic on one filesystem).
 */
export function diskBlobCache(root: string): BlobCache {
  const base = resolve(root);
  const pathOf = (key: string): string => {
    const p = resolve(base, ...key.split('/'));
    if (!key || key.split('/').some((s) => s === '' || s === '.' || s === '..') || !p.startsWith(base + sep)) {
      throw new MedsamError(`blob cache key '${key}' is not a plain relative name`, 'this is a bug in the caller; please report it');
    }
    return p;
  };
  return {
    async get(key) {
      try {
        const b = readFileSync(pathOf(key));
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (e) {
        if (e instanceof MedsamError) throw e;
        return undefined;
      }
    },
    async put(key, bytes) {
      const path = pathOf(key);
      try {
        mkdirSync(dirname(path), { recursive: true });
      } catch (e) {
        throw new MedsamError(
          `cannot create the cache folder ${dirname(path)}: ${errorMessage(e)}`,
          'set MEDSAM2_CACHE_DIR to a writable folder',
        );
      }
      const tmp = `${dirname(path)}${sep}.${path.slice(dirname(path).length + 1)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
      try {
        writeFileSync(tmp, bytes);
        renameSync(tmp, path);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw new MedsamError(`cannot write ${path}: ${errorMessage(e)}`, 'check that the cache folder is writable and the disk has space');
      }
    },
    location(key) {
      return key ? join(base, ...key.split('/')) : base;
    },
  };
}
