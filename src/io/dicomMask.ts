/**
 * Masks written as DICOM (Node layer): `.rtstruct.dcm` (or format 'rtstruct') → RTSTRUCT, any
 * other `.dcm` → SEG. The image the mask came from must be a DICOM series (its identity is referenced).
 */
import { writeFileAtomic } from './atomicWrite.js';
import { buildSeg, dicomSource, type SegmentSpec } from './dicom/segWrite.js';
import { buildRtStruct } from './dicom/rtstructWrite.js';
import type { Volume } from './volume.js';

export interface DicomMaskOptions {
  format?: 'seg' | 'rtstruct';
  /** Model id and version, recorded as the segmentation algorithm. */
  algorithmName?: string;
  algorithmVersion?: string;
  segments?: SegmentSpec[];
}

export function dicomMaskFormat(path: string, format?: 'seg' | 'rtstruct'): 'seg' | 'rtstruct' {
  return format ?? (/\.rtstruct\.dcm$/i.test(path) || /\.rt\.dcm$/i.test(path) ? 'rtstruct' : 'seg');
}

export async function writeDicomMask(path: string, mask: Volume, like: Volume | undefined, opts: DicomMaskOptions = {}): Promise<void> {
  dicomSource(like, path);
  const o = {
    algorithmName: opts.algorithmName ?? 'medsam2.js',
    algorithmVersion: opts.algorithmVersion ?? '0.1.0',
    segments: opts.segments,
  };
  const bytes = dicomMaskFormat(path, opts.format) === 'rtstruct' ? buildRtStruct(mask, like!, o, path) : buildSeg(mask, like!, o, path);
  writeFileAtomic(path, bytes);
}
