import { MedsamError } from '../../common/errors.js';
import type { NdArray } from '../../io/ndarray.js';

const SHOW = 10;

function list(keys: string[]): string {
  return keys.slice(0, SHOW).join(', ') + (keys.length > SHOW ? `, … (${keys.length} in all)` : '');
}

/**
 * Compare checkpoint keys with the keys a model needs. Missing keys always fail; unexpected keys
 * fail unless `allowUnexpected` (e.g. a checkpoint that also carries training-only heads).
 */
export function checkKeys(
  tensors: Map<string, NdArray> | Iterable<string>,
  expected: readonly string[],
  opts: { allowUnexpected?: boolean; source?: string } = {},
): void {
  const have = new Set(tensors instanceof Map ? tensors.keys() : tensors);
  const want = new Set(expected);
  const missing = expected.filter((k) => !have.has(k));
  const unexpected = opts.allowUnexpected ? [] : [...have].filter((k) => !want.has(k));
  if (missing.length === 0 && unexpected.length === 0) return;
  const parts: string[] = [];
  if (missing.length) parts.push(`${missing.length} missing key(s): ${list(missing)}`);
  if (unexpected.length) parts.push(`${unexpected.length} unexpected key(s): ${list(unexpected)}`);
  throw new MedsamError(
    `${opts.source ?? 'checkpoint'} does not match the model: ${parts.join('; ')}`,
    'pass the config the checkpoint was trained with, or the matching checkpoint',
  );
}

/** Total element count of all tensors (the parameter count of a state dict). */
export function totalElements(tensors: Map<string, NdArray>, filter: (key: string) => boolean = () => true): number {
  let n = 0;
  for (const [k, t] of tensors) if (filter(k)) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}
