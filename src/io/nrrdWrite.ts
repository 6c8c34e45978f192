// Node-free: returns bytes; writeMask.ts writes them to a path.
import { gzipSync } from 'fflate';
import { concatBytes } from './bytes.js';
import { checkMaskShape, toLabelArray } from './maskLabels.js';
import type { Volume } from './volume.js';

/**
 * A label mask as gzip NRRD bytes in LPS space (`path` names it in messages). Numbers are printed
 * with JavaScript's shortest round-trip formatting, so reading it back gives the identical doubles.
 */
export function encodeNrrd(mask: Volume, path: string): Uint8Array {
  checkMaskShape(mask, path);
  const labels = toLabelArray(mask, path);
  const { spacing: s, direction: d, origin: o } = mask;
  const col = (c: number): string => `(${[0, 1, 2].map((r) => fmt(d[r * 3 + c] * s[c])).join(',')})`;
  const header = [
    'NRRD0004',
    '# written by medsam2.js',
    `type: ${labels instanceof Uint8Array ? 'uint8' : 'int16'}`,
    'dimension: 3',
    'space: left-posterior-superior',
    `sizes: ${mask.dims.join(' ')}`,
    `space directions: ${col(0)} ${col(1)} ${col(2)}`,
    'kinds: domain domain domain',
    'endian: little',
    'encoding: gzip',
    `space origin: (${o.map(fmt).join(',')})`,
    '',
    '',
  ].join('\n');
  const body = gzipSync(new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength), { level: 6, mtime: 0 });
  return concatBytes([new TextEncoder().encode(header), body]);
}

function fmt(x: number): string {
  return String(x + 0);
}
