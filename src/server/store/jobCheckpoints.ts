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
import { BlobStore } from './blobStore.js';

/**
 * A batch job's per-object checkpoints (segmentByObject.ts), kept apart from the content-addressed
 * blob store: checkpoints/<job id>/<sha256>.gz. They belong to one job only, so they can be dropped
 * whole when the job ends (done, failed, cancelled) without asking who else refers to the bytes —
 * in the shared store an object's mask can have the very bytes of a label map some row keeps (a
 * one-object job's result), and a job's leftovers could not be told from it. Each file is written
 * to a temp name in its folder, fsynced and renamed, so a crash never leaves a half checkpoint
 * under a final name; the job id and sha come from the server, never from a client.
 */
export class JobCheckpoints {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'checkpoints');
    mkdirSync(this.root, { recursive: true });
  }

  private dir(jobId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(jobId)) throw new Error(`not a job id: ${jobId}`);
    return join(this.root, jobId);
  }

  private path(jobId: string, sha: string): string {
    if (!BlobStore.isSha256(sha)) throw new Error(`not a sha256: ${sha}`);
    return join(this.dir(jobId), `${sha}.gz`);
  }

  /** Stores one checkpoint of `jobId` durably; returns the sha256 of its bytes. */
  put(jobId: string, bytes: Uint8Array): string {
    const sha = createHash('sha256').update(bytes).digest('hex');
    const final = this.path(jobId, sha);
    if (existsSync(final)) return sha;
    mkdirSync(this.dir(jobId), { recursive: true });
    const tmp = join(this.dir(jobId), `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      const fd = openSync(tmp, 'wx');
      try {
        writeFileSync(fd, bytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, final);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    return sha;
  }

  has(jobId: string, sha: string): boolean {
    return existsSync(this.path(jobId, sha));
  }

  read(jobId: string, sha: string): Uint8Array {
    return new Uint8Array(readFileSync(this.path(jobId, sha)));
  }

  /** Drops every checkpoint of a job that has ended (nothing refers to them any more). */
  drop(jobId: string): void {
    rmSync(this.dir(jobId), { recursive: true, force: true });
  }

  /** Jobs that have a checkpoint folder (e.g. left by a process that stopped before dropping them). */
  jobs(): string[] {
    return readdirSync(this.root).filter((n) => /^[0-9a-f-]{36}$/.test(n));
  }
}
