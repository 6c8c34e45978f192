import { existsSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore } from './blobStore.js';

/**
 * A batch job's per-object checkpoints (segmentByObject.ts), kept apart from the server's blob
 * store: checkpoints/<job id>/ is a content-addressed store of that job alone (BlobStore's layout
 * and atomic writes). They belong to one job, so they are dropped whole when the job ends (done,
 * failed, cancelled) without asking who else refers to the bytes — in the shared store an
 * object's mask can have the very bytes of a label map some row keeps (a one-object job's result),
 * and a job's leftovers could not be told from it. Job ids come from the server, never a client.
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

  /** One BlobStore per job, made on first use (its constructor creates the job's folders). */
  private readonly stores = new Map<string, BlobStore>();

  private store(jobId: string): BlobStore {
    let s = this.stores.get(jobId);
    if (!s) this.stores.set(jobId, (s = new BlobStore(this.dir(jobId))));
    return s;
  }

  /** Stores one checkpoint of `jobId` durably; returns the sha256 of its bytes. */
  put(jobId: string, bytes: Uint8Array): string {
    return this.store(jobId).putBytes(bytes);
  }

  /** Whether `jobId` has the checkpoint `sha` (asking creates no folder). */
  has(jobId: string, sha: string): boolean {
    return existsSync(this.dir(jobId)) && this.store(jobId).has(sha);
  }

  read(jobId: string, sha: string): Uint8Array {
    return new Uint8Array(readFileSync(this.store(jobId).path(sha)));
  }

  /** Drops every checkpoint of a job that has ended (nothing refers to them any more). */
  drop(jobId: string): void {
    this.stores.delete(jobId);
    rmSync(this.dir(jobId), { recursive: true, force: true });
  }

  /** Jobs that have a checkpoint folder (e.g. left by a process that stopped before dropping them). */
  jobs(): string[] {
    return readdirSync(this.root).filter((n) => /^[0-9a-f-]{36}$/.test(n));
  }
}
