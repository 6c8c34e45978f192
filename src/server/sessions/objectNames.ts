import { HttpError } from '../httpError.js';
import type { InteractionRow, ObjectNameRow } from '../store/repository.js';

/**
 * The names annotators give a session's objects ("polyp", "instrument"): checked once here, kept
 * on the server (beside the interaction log, not in it: renaming is not a model interaction and
 * undo steps through the model's work only), listed with the session's objects and written into
 * the exports that carry names. A name lives as long as its object: a delete logged after the name
 * was given ends it, and undoing that delete brings it back.
 */

export const MAX_NAME_CHARS = 64;

// Control, format (zero-width space, bidi overrides, …), surrogate, private-use and unassigned code
// points, line/paragraph separators; the zero-width (non-)joiners stay: some scripts and emoji need them.
const UNPRINTABLE = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

/** The name as stored (surrounding spaces dropped), or a 400 naming what is wrong with it. */
export function checkObjectName(raw: unknown): string {
  const fix = `give 1 to ${MAX_NAME_CHARS} printable characters, e.g. {"name": "polyp"}`;
  if (typeof raw !== 'string') throw new HttpError(400, 'the object name must be a string', fix);
  const name = raw.trim();
  if (name.length === 0) throw new HttpError(400, 'the object name is empty', fix);
  const chars = [...name];
  if (chars.length > MAX_NAME_CHARS)
    throw new HttpError(400, `the object name is ${chars.length} characters long, more than ${MAX_NAME_CHARS}`, fix);
  const bad = chars.find((c) => UNPRINTABLE.test(c));
  if (bad !== undefined)
    throw new HttpError(
      400,
      `the object name holds an unprintable character (U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`,
      fix,
    );
  return name;
}

/** objId → name for the names still in effect: those no delete of their object (in effect) came after. */
export function namesInEffect(names: readonly ObjectNameRow[], inEffect: readonly InteractionRow[]): Map<number, string> {
  const lastRemove = new Map<number, number>();
  for (const r of inEffect) if (r.kind === 'remove') lastRemove.set((r.payload as { objId: number }).objId, r.seq);
  const out = new Map<number, string>();
  for (const n of names) if ((lastRemove.get(n.objId) ?? 0) <= n.namedAt) out.set(n.objId, n.name);
  return out;
}
