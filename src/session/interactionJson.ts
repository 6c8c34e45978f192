import { MedsamError } from '../common/errors.js';
import type { SlicePrompt } from '../families/family.js';
import type { Interaction } from './types.js';

/**
 * Interactions as plain JSON (what a server persists for crash recovery): everything but masks is
 * JSON already; a mask becomes { maskBase64 } of its 0/1 bytes. interactionFromJson checks shapes
 * and refuses anything else, so a stored history cannot smuggle in arbitrary fields.
 */

type PromptJson = Omit<SlicePrompt, 'mask'> & { maskBase64?: string };

function promptToJson(p: SlicePrompt): PromptJson {
  const { mask, ...rest } = p;
  return mask ? { ...rest, maskBase64: Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength).toString('base64') } : { ...rest };
}

function promptFromJson(j: unknown, where: string): SlicePrompt {
  if (!j || typeof j !== 'object') throw bad(where, 'prompt is not an object');
  const o = j as Record<string, unknown>;
  const p: SlicePrompt = {};
  const box = (v: unknown, name: string) => {
    if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => typeof x === 'number')) throw bad(where, `${name} is not [x0, y0, x1, y1]`);
    return v as [number, number, number, number];
  };
  if (o.box !== undefined) p.box = box(o.box, 'box');
  if (o.recist !== undefined) p.recist = box(o.recist, 'recist');
  if (o.points !== undefined) {
    if (!Array.isArray(o.points)) throw bad(where, 'points is not a list');
    p.points = o.points.map((q: unknown) => {
      const r = q as Record<string, unknown>;
      if (!r || typeof r.x !== 'number' || typeof r.y !== 'number' || (r.label !== 0 && r.label !== 1))
        throw bad(where, 'a point is not {x, y, label: 0|1}');
      return { x: r.x, y: r.y, label: r.label };
    });
  }
  if (o.maskBase64 !== undefined) {
    if (typeof o.maskBase64 !== 'string') throw bad(where, 'maskBase64 is not a string');
    p.mask = new Uint8Array(Buffer.from(o.maskBase64, 'base64'));
  }
  return p;
}

function bad(where: string, what: string): MedsamError {
  return new MedsamError(`interaction ${where}: ${what}`, 'the stored history is damaged; start a new session');
}

export function interactionToJson(i: Interaction): unknown {
  if (i.kind === 'prompt' || i.kind === 'correct') return { ...i, prompt: promptToJson(i.prompt) };
  if (i.kind === 'edit') {
    const { mask, ...rest } = i;
    return { ...rest, maskBase64: Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength).toString('base64') };
  }
  return { ...i };
}

export function interactionFromJson(j: unknown, where = '?'): Interaction {
  if (!j || typeof j !== 'object') throw bad(where, 'not an object');
  const o = j as Record<string, unknown>;
  const int = (v: unknown, name: string) => {
    if (!Number.isInteger(v)) throw bad(where, `${name} is not an integer`);
    return v as number;
  };
  const axis = (): { axis?: 0 | 1 | 2 } => {
    if (o.axis === undefined) return {};
    if (o.axis !== 0 && o.axis !== 1 && o.axis !== 2) throw bad(where, 'axis is not 0, 1 or 2');
    return { axis: o.axis };
  };
  switch (o.kind) {
    case 'prompt':
      return {
        kind: 'prompt',
        objId: int(o.objId, 'objId'),
        slice: int(o.slice, 'slice'),
        prompt: promptFromJson(o.prompt, where),
        replace: o.replace === true,
        ...axis(),
      };
    case 'correct':
      return {
        kind: 'correct',
        objId: int(o.objId, 'objId'),
        slice: int(o.slice, 'slice'),
        prompt: promptFromJson(o.prompt, where),
        ...axis(),
      };
    case 'remove':
      return { kind: 'remove', objId: int(o.objId, 'objId') };
    case 'edit':
      if (typeof o.maskBase64 !== 'string') throw bad(where, 'maskBase64 is not a string');
      return {
        kind: 'edit',
        objId: int(o.objId, 'objId'),
        slice: int(o.slice, 'slice'),
        mask: new Uint8Array(Buffer.from(o.maskBase64, 'base64')),
        ...axis(),
      };
    case 'propagate': {
      const r: Interaction = { kind: 'propagate' };
      if (o.objIds !== undefined) {
        if (!Array.isArray(o.objIds)) throw bad(where, 'objIds is not a list');
        r.objIds = o.objIds.map((v) => int(v, 'objIds[]'));
      }
      if (o.range !== undefined) {
        if (!Array.isArray(o.range) || o.range.length !== 2) throw bad(where, 'range is not [from, to]');
        r.range = [int(o.range[0], 'range[0]'), int(o.range[1], 'range[1]')];
      }
      if (o.direction !== undefined) {
        if (o.direction !== 'both' && o.direction !== 'forward' && o.direction !== 'backward')
          throw bad(where, 'direction is not both/forward/backward');
        r.direction = o.direction;
      }
      if (o.full !== undefined) r.full = o.full === true;
      return r;
    }
    default:
      throw bad(where, `unknown kind ${JSON.stringify(o.kind)}`);
  }
}
