import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HttpError } from '../httpError.js';

/**
 * Content-addressed file store: every stored thing is named by the sha256 of its bytes
 * (blobs/ab/abcdef…), written to a temp file in the same file system, fsynced, then renamed,
 * so a crash never leaves a half file under a final name and equal content is stored once.
 * Nothing a client sends ever becomes part of a path.
 *
 * Equal bytes are one file, so a refused upload must not remove a file another writer is about to
 * refer to (an accepted upload of the same bytes under another format, committing its row while the
 * refusal decides): each writer holds a pin on its sha from the moment the file is in place until
 * the row referring to it is committed, and `discard` removes a file only when no row and no pin
 * refers to it, and no pin was taken while it asked the database.
 */
export class BlobStore {
  readonly root: string;
  private readonly tmp: string;
  /** sha → how many writers hold it (stored, their row not committed yet). */
  private readonly pins = new Map<string, number>();
  /** sha → the discard deciding about it; a pin taken meanwhile calls that removal off. */
  private readonly discarding = new Map<string, symbol>();

  constructor(dataDir: string) {
    this.root = join(dataDir, 'blobs');
    this.tmp = join(dataDir, 'tmp');
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  static isSha256(s: string): boolean {
    return /^[0-9a-f]{64}$/.test(s);
  }

  /** The name `bytes` are stored under. */
  static sha256(bytes: Uint8Array): string {
    return createHash('sha256').update(bytes).digest('hex');
  }

  path(sha: string): string {
    if (!BlobStore.isSha256(sha)) throw new Error(`not a sha256: ${sha}`);
    return join(this.root, sha.slice(0, 2), sha);
  }

  has(sha: string): boolean {
    return existsSync(this.path(sha));
  }

  /** Removes a file outright (start-up housekeeping, before any request); a refused upload's go through `discard`. */
  remove(sha: string): void {
    rmSync(this.path(sha), { force: true });
  }

  /** Holds `sha` for a writer: no `discard` removes it until `unpin` (taken by putStream/keepBytes themselves). */
  pin(sha: string): void {
    this.pins.set(sha, (this.pins.get(sha) ?? 0) + 1);
    this.discarding.delete(sha);
  }

  /** Lets go of a writer's pin (its row is committed, or it gave up). */
  unpin(sha: string): void {
    const n = (this.pins.get(sha) ?? 0) - 1;
    if (n > 0) this.pins.set(sha, n);
    else this.pins.delete(sha);
  }

  /** Whether a writer holds `sha`. */
  pinned(sha: string): boolean {
    return this.pins.has(sha);
  }

  /**
   * Lets go of the caller's pin on `sha` (bytes it refused) and removes the file unless another
   * writer holds it, `referenced` (the database: does any row refer to it?) says yes, or a writer
   * pinned it while that question was out. Whether it was removed.
   */
  async discard(sha: string, referenced: (sha: string) => Promise<boolean>): Promise<boolean> {
    this.unpin(sha);
    if (this.pinned(sha)) return false;
    const mine = Symbol(sha);
    this.discarding.set(sha, mine);
    try {
      if (await referenced(sha)) return false;
      // A writer that stored the same bytes since then pinned them (and so called this off); its row
      // may already be committed, after the question above was answered.
      if (this.discarding.get(sha) !== mine || this.pinned(sha)) return false;
      this.remove(sha);
      return true;
    } finally {
      if (this.discarding.get(sha) === mine) this.discarding.delete(sha);
    }
  }

  /**
   * Removes what a stopped process left in the temp folder (a partial upload, an export or a DICOM
   * scratch folder under way when it was killed): nothing else ever removes those. Only entries not
   * modified for `olderThanMs`, so a live process writing there (another server on the same data
   * folder) is never touched. Returns how many went.
   */
  sweepTemp(olderThanMs: number, now = Date.now()): number {
    let removed = 0;
    for (const name of readdirSync(this.tmp)) {
      const p = join(this.tmp, name);
      try {
        if (now - lstatSync(p).mtimeMs < olderThanMs) continue;
        rmSync(p, { recursive: true, force: true });
        removed++;
      } catch {
        // Gone meanwhile (its owner removed it): nothing to do.
      }
    }
    return removed;
  }

  /** A fresh path in the store's temp folder (same file system as the blobs). */
  tempPath(suffix = ''): string {
    return join(this.tmp, `${Date.now()}-${randomBytes(6).toString('hex')}${suffix}`);
  }

  /** Renames the temp file into place (or drops it: the bytes are there already) and pins `sha`, in one synchronous step. */
  private commit(tmp: string, sha: string): string {
    const final = this.path(sha);
    if (existsSync(final)) {
      rmSync(tmp, { force: true });
    } else {
      mkdirSync(join(this.root, sha.slice(0, 2)), { recursive: true });
      renameSync(tmp, final);
    }
    this.pin(sha);
    return final;
  }

  /** Stores `bytes` (pinned: the caller unpins once its row is committed); their sha. */
  private putPinned(bytes: Uint8Array): string {
    const sha = BlobStore.sha256(bytes);
    if (this.has(sha)) {
      this.pin(sha);
      return sha;
    }
    const tmp = this.tempPath();
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.commit(tmp, sha);
    return sha;
  }

  /** Stores `bytes` for a store no discard ever runs on (a job's own checkpoints); their sha. */
  putBytes(bytes: Uint8Array): string {
    const sha = this.putPinned(bytes);
    this.unpin(sha);
    return sha;
  }

  /**
   * Stores `bytes` and runs `commit(sha)` (the row that refers to them) while they are pinned, so a
   * refused upload of the same bytes never removes them in between.
   */
  async keepBytes<T>(bytes: Uint8Array, commit: (sha: string) => Promise<T>): Promise<T> {
    const sha = this.putPinned(bytes);
    try {
      return await commit(sha);
    } finally {
      this.unpin(sha);
    }
  }

  /**
   * Streams a request body into the store, hashing as it goes; more than `maxBytes` aborts with
   * 413 and removes the partial file. One `pipeline` owns both streams: a client that drops the
   * connection mid-upload ends in a 400 and the partial file removed, never in a write to the
   * destroyed file stream (an unhandled 'error' that took the whole server down). The stored sha
   * comes back pinned: the caller `unpin`s it once its row is committed, or `discard`s it.
   */
  async putStream(body: Readable, maxBytes: number): Promise<{ sha256: string; bytes: number }> {
    const tmp = this.tempPath();
    const hash = createHash('sha256');
    let bytes = 0;
    const tooLarge = new HttpError(
      413,
      `upload is larger than the server's limit of ${maxBytes} bytes`,
      'send a smaller file or ask the admin to raise --max-upload-bytes',
    );
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) return done(tooLarge);
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // Whether the client's side broke (dropped connection): a 400; anything else is the server's.
    let clientBroke = false;
    const broke = () => (clientBroke = true);
    body.once('error', broke).once('aborted', broke);
    const out = createWriteStream(tmp, { flags: 'wx' });
    try {
      await pipeline(body, count, out);
      const fd = openSync(tmp, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      // The file may still be opening: removed once its stream is closed, or the open would re-create it.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      rmSync(tmp, { force: true });
      if (e instanceof HttpError) throw e;
      const premature = (e as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
      // The file system's own failure (disk full, permissions) stays a server error.
      if (!clientBroke && !premature) throw e;
      throw new HttpError(400, 'upload interrupted by the client', 'send the file again');
    } finally {
      body.off('error', broke).off('aborted', broke);
    }
    if (bytes === 0) {
      rmSync(tmp, { force: true });
      throw new HttpError(400, 'upload is empty (0 bytes)', 'send the file as the request body (Content-Type: application/octet-stream)');
    }
    const sha256 = hash.digest('hex');
    this.commit(tmp, sha256);
    return { sha256, bytes };
  }
}
