// Node layer: a mask to a path. Encoding is maskEncode.ts (node-free).
import { assertWritableTarget, writeFileAtomic } from './atomicWrite.js';
import { encodeMask } from './maskEncode.js';
import type { Volume } from './volume.js';

export { SUPPORTED_MASK_OUTPUTS } from './maskEncode.js';

/**
 * Write a label mask, format chosen by extension (see encodeMask). The folder is checked before
 * encoding, and the file is written to a temp file and renamed, so a failure never leaves a
 * partial file and an existing file is only ever replaced whole.
 */
export async function writeMask(path: string, mask: Volume, like?: Volume): Promise<void> {
  assertWritableTarget(path);
  writeFileAtomic(path, encodeMask(mask, path, like));
}
