// Node layer: the detached data files a header names (NRRD `data file:`, MetaImage
// `ElementDataFile`), read only when they resolve inside the header's own folder.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { readFileBytes } from './fileBytes.js';
import type { ReadLimits } from './readLimits.js';

/**
 * A reader for `opts.readDataFile`: each name is resolved against the header's folder, then both
 * are resolved through symlinks (realpath), and the data file must lie inside that folder. An
 * absolute path elsewhere, a `../` escape or a symlink out is refused with one line naming it,
 * so a hostile header can never make us read (and segment, and write out) another file.
 */
export function confinedDataFileReader(
  headerPath: string,
  what: string,
  limits?: ReadLimits,
  filesRead?: string[],
): (name: string) => Uint8Array {
  const folder = realpathSync(dirname(resolve(headerPath)));
  return (name: string) => {
    const target = isAbsolute(name) ? name : resolve(dirname(resolve(headerPath)), name);
    const refuse = (where: string): never => {
      throw new MedsamError(
        `${what} ${headerPath} names data file ${name}${where === name ? '' : ` (${where})`}, outside the header's folder ${folder}`,
        'keep the data file in the same folder as its header and name it relatively (e.g. data file: scan.raw)',
      );
    };
    const inside = (p: string): boolean => {
      const rel = relative(folder, p);
      return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
    };
    if (!existsSync(target)) {
      if (!inside(resolve(target))) refuse(resolve(target));
      throw new MedsamError(
        `${what} ${headerPath} points at data file ${target}, which does not exist`,
        'keep the header next to its data file',
      );
    }
    const real = realpathSync(target);
    if (!inside(real)) refuse(real === target ? real : `${target} (really ${real})`);
    filesRead?.push(real);
    return readFileBytes(real, `${what} data file`, limits);
  };
}
