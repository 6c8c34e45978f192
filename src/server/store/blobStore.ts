import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, fsyncSync, mkdirSync, openSync, closeSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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
   * 413 and removes the partial file.
   */
  async putStream(body: Readable, maxBytes: number): Promise<{ sha256: string; bytes: number }> {
    const tmp = this.tempPath();
    const hash = createHash('sha256');
    const out = createWriteStream(tmp, { flags: 'wx' });
    let bytes = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        body.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > maxBytes) {
            body.destroy();
            reject(
              new HttpError(
                413,
                `upload is larger than the server's limit of ${maxBytes} bytes`,
                'send a smaller file or ask the admin to raise --max-upload-bytes',
              ),
            );
            return;
          }
          hash.update(chunk);
          if (!out.write(chunk)) {
            body.pause();
            out.once('drain', () => body.resume());
          }
        });
        body.on('end', () => resolve());
        body.on('error', (e) => reject(new HttpError(400, `upload interrupted: ${e.message}`, 'send the file again')));
        body.on('aborted', () => reject(new HttpError(400, 'upload interrupted by the client', 'send the file again')));
      });
      await new Promise<void>((resolve, reject) => {
        out.end(() => resolve());
        out.on('error', reject);
      });
      const fd = openSync(tmp, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      out.destroy();
      rmSync(tmp, { force: true });
      throw e;
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
