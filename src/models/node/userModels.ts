import { readModelEntryFiles, userModelDir } from '../../platform/nodeModelFolder.js';
import { validateModelEntry, type ModelEntry } from '../registry.js';

export { userModelDir };

/**
 * The validated `*.json` entries of a model folder (default: the user model folder). Relative
 * `files` paths are taken relative to the JSON file; a broken file is an error (silently skipping
 * it would make `--model x` fail with a confusing "unknown id").
 */
export function loadUserModels(dir = userModelDir()): ModelEntry[] {
  return readModelEntryFiles(dir).map((raw) => validateModelEntry(raw, raw.origin as string));
}
