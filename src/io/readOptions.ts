import type { ReadLimits } from './readLimits.js';

/**
 * Options every byte parser takes. Parsers never touch the filesystem: a detached data file
 * (NRRD `data file:`, MetaImage `ElementDataFile`) is fetched through `readDataFile`, which only
 * the Node path layer provides (and which confines it to the header's own folder).
 */
export interface ParseOptions extends ReadLimits {
  /**
   * Told once per kind of repaired problem (NaN voxels, zero spacing), in one line, with what was
   * assumed. Default: console.warn.
   */
  onWarning?: (message: string) => void;
  /** Bytes of a detached data file named by a header (relative to the header's folder). */
  readDataFile?: (name: string) => Uint8Array;
}

export function warnerOf(opts: ParseOptions | undefined): (message: string) => void {
  return opts?.onWarning ?? ((m: string) => console.warn(`warning: ${m}`));
}
