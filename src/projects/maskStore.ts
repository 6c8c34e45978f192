import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { MedsamError } from '../common/errors.js';

/**
 * Content-addressed store of label masks, the same layout as the server's BlobStore
 * (src/server/store/blobStore.ts: blobs/ab/abcdef…, temp file in the same file system, fsync,
 * rename), so both can share one store directory. A mask is its uint8 label map (x-fastest)
 * gzip'd; the database keeps only the sha256. Writing the blob before the row that refers to it
 * means a crash can leave an unreferenced blob, never a row without its mask.
 */
export class MaskStore {
  readonly root: string;
  private readonly tmp: string;

  constructor(dir: string) {
    this.root = join(dir, 'blobs');
    this.tmp = join(dir, 'tmp');
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  path(sha: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`not a sha256: ${sha}`);
    return join(this.root, sha.slice(0, 2), sha);
  }

  putBytes(bytes: Uint8Array): string {
    const sha = createHash('sha256').update(bytes).digest('hex');
    const final = this.path(sha);
    if (existsSync(final)) return sha;
    const tmp = join(this.tmp, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    const fd = openSync(tmp, 'wx');
    try {
      writeFileSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    mkdirSync(join(this.root, sha.slice(0, 2)), { recursive: true });
    renameSync(tmp, final);
    return sha;
  }

  getBytes(sha: string): Uint8Array {
    const p = this.path(sha);
    if (!existsSync(p))
      throw new MedsamError(
        `mask ${sha.slice(0, 12)}… is missing from the store ${this.root}`,
        "point --store at the project's store folder",
      );
    const bytes = readFileSync(p);
    if (createHash('sha256').update(bytes).digest('hex') !== sha)
      throw new MedsamError(`mask ${sha.slice(0, 12)}… in ${this.root} is corrupt (hash mismatch)`, 'restore the store from a backup');
    return bytes;
  }

  /** Stores a label map; returns its sha256. */
  putMask(labels: Uint8Array): string {
    // mtime 0 in the gzip header: equal masks give equal bytes, hence one blob.
    return this.putBytes(gzipSync(labels, { level: 6 }));
  }

  getMask(sha: string, voxels: number): Uint8Array {
    const out = new Uint8Array(gunzipSync(this.getBytes(sha)));
    if (out.length !== voxels)
      throw new MedsamError(
        `mask ${sha.slice(0, 12)}… has ${out.length} voxels, the case ${voxels}`,
        'the store belongs to another project',
      );
    return out;
  }

  /** Temp files left by a crash mid-write (never under a final name). */
  leftoverTemps(): string[] {
    return existsSync(this.tmp) ? readdirSync(this.tmp) : [];
  }

  clearTemps(): void {
    for (const f of this.leftoverTemps()) rmSync(join(this.tmp, f), { force: true });
  }
}
