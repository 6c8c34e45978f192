import { MedsamError } from '../common/errors.js';
import type { ModelEntry } from '../models/registry.js';
import type { ModelFamily } from './family.js';
import { sam1Family } from './sam1/index.js';
import { sam2Family } from './sam2/index.js';

/**
 * Model entries → the family that runs them (ModelEntry.family). A new family is one folder under
 * src/families/ plus one line here (or registerFamily() at run time, e.g. in a test or a plugin).
 */
const families = new Map<string, ModelFamily>([
  [sam1Family.id, sam1Family],
  [sam2Family.id, sam2Family],
]);

export function registerFamily(family: ModelFamily): void {
  families.set(family.id, family);
}

export function familyFor(entry: ModelEntry): ModelFamily {
  const f = families.get(entry.family);
  if (!f) {
    throw new MedsamError(
      `model '${entry.id}' is of family '${String(entry.family)}', which this build cannot run`,
      `known families: ${[...families.keys()].join(', ')}`,
    );
  }
  return f;
}

export function knownFamilies(): string[] {
  return [...families.keys()];
}
