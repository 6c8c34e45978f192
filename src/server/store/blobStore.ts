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
 */
export class BlobStore {
  readonly root: string;
  private readonly tmp: string;

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

  /** Drops content nothing refers to (a rejected upload). */
  remove(sha: string): void {
    rmSync(this.path(sha), { force: true });
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

  private commit(tmp: string, sha: string): string {
    const final = this.path(sha);
    if (existsSync(final)) {
      rmSync(tmp, { force: true });
    } else {
      mkdirSync(join(this.root, sha.slice(0, 2)), { recursive: true });
      renameSync(tmp, final);
    }
    return final;
  }

  putBytes(bytes: Uint8Array): string {
    const sha = BlobStore.sha256(bytes);
    if (this.has(sha)) return sha;
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

  /**
   * Streams a request body into the store, hashing as it goes; more than `maxBytes` aborts with
   * 413 and removes the partial file. One `pipeline` owns both streams: a client that drops the
   * connection mid-upload ends in a 400 and the partial file removed, never in a write to the
   * destroyed file stream (an unhandled 'error' that took the whole server down).
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
