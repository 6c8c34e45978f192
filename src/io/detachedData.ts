import { MedsamError } from '../common/errors.js';

/**
 * The data-file names a detached header lists (NRRD `data file:`, MetaImage `ElementDataFile`):
 * one name, `LIST` followed by one name per line, or a printf pattern `name%03d.raw min max step`.
 * Only names are produced here; the Node path layer resolves each one and refuses any that lands
 * outside the header's own folder.
 */
export function expandDataFileSpec(spec: string, listLines: readonly string[], label: string, maxFiles: number): string[] {
  const first = spec.trim();
  if (/^LIST(\s|$)/.test(first)) {
    const names = listLines.map((l) => l.trim()).filter(Boolean);
    if (names.length === 0) throw new MedsamError(`${label} has "LIST" data files but lists none`, 're-export the file');
    if (names.length > maxFiles)
      throw new MedsamError(`${label} lists ${names.length} data files for ${maxFiles} slices`, 're-export the file');
    return names;
  }
  const m = /^(\S*%(0?)(\d*)d\S*)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)(\s+\d+)?$/.exec(first);
  if (m) {
    const [, format, zero, width, a, b, c] = m;
    const min = Number(a),
      max = Number(b),
      step = Number(c);
    if (step === 0 || (max - min) / step < 0)
      throw new MedsamError(`${label} has a data file pattern "${first}" with an impossible range`, 're-export the file');
    const count = Math.floor((max - min) / step) + 1;
    if (count > maxFiles)
      throw new MedsamError(
        `${label} has a data file pattern "${first}" naming ${count} files for ${maxFiles} slices`,
        're-export the file',
      );
    const names: string[] = [];
    for (let i = 0, v = min; i < count; i++, v += step) {
      const digits = String(Math.abs(v)).padStart(width ? Number(width) - (v < 0 ? 1 : 0) : 0, zero ? '0' : ' ');
      names.push(format.replace(/%0?\d*d/, (v < 0 ? '-' : '') + digits));
    }
    return names;
  }
  if (/%/.test(first) && /\s-?\d+\s+-?\d+/.test(first))
    throw new MedsamError(`${label} has a malformed data file pattern "${first}"`, 'use name%03d.raw <min> <max> <step>');
  return [first];
}
