import { dataTypeName } from './rawVoxels.js';
import { isOblique, orientationCode } from './geometry.js';
import { hasNominalSpacing } from './image2d.js';
import type { Volume } from './volume.js';

export interface IntensityStats {
  min: number;
  max: number;
  mean: number;
  /** Voxels that are not zero. */
  nonzero: number;
}

export function intensityStats(data: Volume['data']): IntensityStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let nonzero = 0;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (v !== 0) nonzero++;
  }
  return { min, max, mean: data.length ? sum / data.length : NaN, nonzero };
}

const fmt = (x: number, digits = 4): string => (Number.isInteger(x) ? String(x) : Number(x.toPrecision(digits)).toString());

/** Multi-line, human-readable summary of a volume (backs `medsam2 info`). */
export function describeVolume(v: Volume): string {
  const s = intensityStats(v.data);
  const code = orientationCode(v.direction);
  const d = v.direction;
  const extent = v.dims.map((n, i) => n * v.spacing[i]);
  const picture = hasNominalSpacing(v);
  const lines = [
    `file:         ${v.source.path}`,
    `format:       ${v.source.format}`,
    // A PNG/JPEG has pixels only: no spacing, position or orientation in a patient.
    ...(picture
      ? [`dimensions:   ${v.dims[0]} x ${v.dims[1]} pixels (2D picture)`, 'spacing:      none in the file (sizes are in pixels)']
      : [
          `dimensions:   ${v.dims.join(' x ')} voxels (${v.dims[2] === 1 ? '2D' : '3D'})`,
          `spacing:      ${v.spacing.map((x) => fmt(x, 6)).join(' x ')} mm`,
          `extent:       ${extent.map((x) => fmt(x, 5)).join(' x ')} mm`,
          `origin:       (${v.origin.map((x) => fmt(x, 6)).join(', ')}) mm, LPS`,
          `orientation:  ${code}${isOblique(v.direction) ? ' (oblique: axes nearest to ' + code + ')' : ''}`,
          `direction:    [${[0, 3, 6]
            .map((r) =>
              d
                .slice(r, r + 3)
                .map((x) => fmt(x, 4))
                .join(' '),
            )
            .join('; ')}]`,
        ]),
    `datatype:     ${dataTypeName(v.data)}`,
    `intensity:    min ${fmt(s.min)}, max ${fmt(s.max)}, mean ${fmt(s.mean)}`,
    `modality:     ${v.modality ?? 'unknown'}`,
  ];
  return lines.join('\n');
}
