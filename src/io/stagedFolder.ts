import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';
import { assertWritableTarget, tempPathFor } from './atomicWrite.js';

/**
 * Files meant for one output folder, written while a long run goes on but shown only when it has
 * finished: each is written into a private temp folder (outside the output's folder, so nothing
 * appears there, not even a parent folder, until the end) and `commit()` moves them in, each
 * replacing a file of that name whole (copy to a hidden temp name beside it, then rename; other
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
        // Another file system: copy beside the target, then rename over it (still replaced whole).
        const tmp = tempPathFor(to);
        try {
          copyFileSync(from, tmp);
          renameSync(tmp, to);
        } catch (e) {
          rmSync(tmp, { force: true });
          throw new MedsamError(`cannot write ${to}: ${errorMessage(e)}`, 'check that the folder is writable and the disk has space');
        }
      }
    }
    this.discard();
  }

  discard(): void {
    if (this.stage) rmSync(this.stage, { recursive: true, force: true });
    this.stage = undefined;
  }
}
