import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';
import { assertWritableTarget, writeFileAtomic } from './atomicWrite.js';

/**
 * Files meant for one output folder, written while a long run goes on but shown only when it has
 * finished: each is written into a private temp folder (outside the output's folder, so nothing
 * appears there, not even a parent folder, until the end) and `commit()` moves them in, each
 * replacing a file of that name whole (a rename, or across file systems writeFileAtomic; other
 * files of the folder are left alone). `discard()` (a failure, Ctrl-C) removes them: the output
 * folder is then as it was.
 */
export class StagedFolder {
  private stage: string | undefined;

  constructor(readonly target: string) {}

  /** Where to write `name` now; it becomes `target/name` on commit. */
  path(name: string): string {
    this.stage ??= mkdtempSync(join(tmpdir(), 'medsam2-staged-'));
    return join(this.stage, name);
  }

  commit(): void {
    if (!this.stage) return;
    const target = resolve(this.target);
    try {
      mkdirSync(target, { recursive: true });
    } catch (e) {
      throw new MedsamError(`cannot create folder ${target}: ${errorMessage(e)}`, 'choose a writable folder');
    }
    for (const name of readdirSync(this.stage).sort()) {
      const from = join(this.stage, name);
      const to = join(target, name);
      assertWritableTarget(to);
      try {
        renameSync(from, to);
      } catch {
        // Another file system: copied beside the target, then renamed over it (still replaced whole).
        writeFileAtomic(to, readFileSync(from));
      }
    }
    this.discard();
  }

  discard(): void {
    if (this.stage) rmSync(this.stage, { recursive: true, force: true });
    this.stage = undefined;
  }
}
