import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';

/**
 * The on-disk part of the model registry: `*.json` entries in the user model folder. Relative
 * `files` paths are taken relative to the JSON file, so a model folder can be moved as a whole.
 * The core registry (src/models/registry.ts) validates what this returns.
 */

/** The user model folder: $MEDSAM2_HOME/models, else ~/.medsam2/models. */
export function userModelDir(): string {
  const home = process.env.MEDSAM2_HOME;
  return home ? join(home, 'models') : join(homedir(), '.medsam2', 'models');
}

/** Raw entries (with `origin` set to the JSON path) in file-name order; a broken file is an error. */
export function readModelEntryFiles(dir = userModelDir()): Record<string, unknown>[] {
  if (!existsSync(dir)) return [];
  const out: Record<string, unknown>[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue;
    const path = join(dir, f);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new MedsamError(
        `model registry file ${path} is not valid JSON: ${errorMessage(e)}`,
        'fix or delete the file, or re-import the model',
      );
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new MedsamError(`model entry in ${path} is invalid: not an object`, 'fix the entry or re-import the model');
    }
    const entry = raw as Record<string, unknown>;
    const files = entry.files;
    if (files && typeof files === 'object') {
      const abs: Record<string, unknown> = {};
      for (const [role, p] of Object.entries(files)) abs[role] = typeof p === 'string' && !isAbsolute(p) ? resolve(dirname(path), p) : p;
      entry.files = abs;
    }
    entry.origin = path;
    out.push(entry);
  }
  return out;
}
