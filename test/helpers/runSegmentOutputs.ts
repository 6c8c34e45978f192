import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { runSegment } from '../../src/cli/commands/segment.js';

/*
 * `medsam2 segment` outputs shared by the test files of one `npm test` run. Browser tests check that
 * what the app stores equals what the CLI writes for the same prompt, and two of them (dicomOpen,
 * projectDicomCase) ask the CLI the same question: the shared CT series, the liver box on slice 16.
 * The CLI's answer does not depend on which file asks, so a run computes it once (9 s of a CI run).
 */

type SegmentFlags = Parameters<typeof runSegment>[1];

/**
 * runSegment(input, flags), or, when an earlier file of this run already ran it with the same input
 * path and flags (all but `output`, which only names where the file goes; its suffix picks the format
 * and so is part of the key), a copy of what that run wrote. The outputs live in the run's cache
 * folder (MEDSAM2_TEST_EMBEDDING_CACHE, set by scripts/runTests.sh, removed when the run ends); a file
 * run on its own (no variable) runs the CLI. The inputs are the shared read-only data, so a path
 * names the same content for the whole run. Flags that write a second file (`preview`, `store`) are
 * not shared.
 */
export async function segmentOncePerRun(input: string, flags: SegmentFlags): Promise<void> {
  const dir = process.env.MEDSAM2_TEST_EMBEDDING_CACHE;
  const { output, ...asked } = flags;
  if (!dir || asked.preview || asked.store) return runSegment(input, flags);
  const name = basename(output);
  const suffix = name.includes('.') ? name.slice(name.indexOf('.')) : '';
  const key = createHash('sha256')
    .update(JSON.stringify({ input: resolve(input), suffix, asked }))
    .digest('hex')
    .slice(0, 32);
  const folder = join(dir, 'segment-outputs');
  const kept = join(folder, key + suffix);
  if (existsSync(kept)) {
    copyFileSync(kept, output);
    process.stdout.write(`# medsam2 segment ${basename(input)}: this run's earlier output for the same input and flags\n`);
    return;
  }
  await runSegment(input, flags);
  mkdirSync(folder, { recursive: true });
  const part = `${kept}.${process.pid}.part`;
  copyFileSync(output, part);
  renameSync(part, kept);
}
