import { MedsamError } from '../../common/errors.js';

/**
 * A focused, non-executing unpickler for PyTorch state dicts (pickle protocols 2–5).
 * Written by hand because no npm package unpickles safely: generic ones either execute nothing
 * useful (so cannot rebuild tensors) or resolve arbitrary globals. Here GLOBAL resolves only an
 * allow-list of names, and each allowed callable is interpreted as plain data: nothing from the
 * file is ever run.
 */

/** A reference to a storage record in the archive (from BINPERSID). */
export interface StorageRef {
  kind: 'storage';
  /** torch storage class name, e.g. "FloatStorage". */
  storageType: string;
  key: string;
  location: string;
  numel: number;
}

/** A tensor described by `torch._utils._rebuild_tensor_v2`; its bytes are read later, on demand. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Python tuples are kept apart from lists only where it matters (persistent ids); both are arrays. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | Map<PyValue, PyValue>
  | Set<PyValue>
  | StorageRef
  | TensorRef
  | PyGlobal;

const STORAGE_TYPES = new Set([
  'FloatStorage',
  'HalfStorage',
  'BFloat16Storage',
  'DoubleStorage',
  'LongStorage',
  'IntStorage',
  'ShortStorage',
  'CharStorage',
  'ByteStorage',
  'BoolStorage',
]);

/** The only globals a state-dict pickle may name. Each is interpreted, never called. */
const ALLOWED = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch.serialization._get_layout',
  'torch.device',
  '_codecs.encode',
  'builtins.set',
  'builtins.frozenset',
  ...[...STORAGE_TYPES].map((s) => `torch.${s}`),
]);

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

export function unpickle(bytes: Uint8Array, label: string): PyValue {
  const fail = (why: string): never => {
    throw new MedsamError(
      `${label}: cannot read the pickled state dict: ${why}`,
      're-save the checkpoint with torch.save(model.state_dict())',
    );
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8');
  const latin1 = new TextDecoder('latin1');
  const stack: StackItem[] = [];
  const metastack: StackItem[][] = [];
  const memo = new Map<number, PyValue>();
  let p = 0;

  const need = (n: number): number => {
    if (p + n > bytes.length) fail(`data ends inside an opcode at byte ${p} (the file is truncated)`);
    const at = p;
    p += n;
    return at;
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) return fail(`stack underflow at byte ${p}`);
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) return fail(`stack underflow at byte ${p}`);
    return v;
  };
  const popMark = (): PyValue[] => {
    const items = stack as PyValue[];
    const out = items.splice(0);
    const prev = metastack.pop();
    if (!prev) fail(`MARK missing at byte ${p}`);
    stack.push(...prev!);
    return out;
  };
  const str = (n: number, dec = utf8): string => dec.decode(bytes.subarray(need(n), p));
  const u64 = (): number => {
    const v = dv.getBigUint64(need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('length field too large');
    return Number(v);
  };
  const long = (n: number): number | bigint => {
    const at = need(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
    if (bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (d: PyValue, kv: PyValue[]): void => {
    if (!(d instanceof Map)) fail(`SETITEM on a non-dict at byte ${p}`);
    for (let i = 0; i + 1 < kv.length; i += 2) (d as Map<PyValue, PyValue>).set(kv[i], kv[i + 1]);
  };
  const global = (module: string, name: string): PyGlobal => {
    const g = new PyGlobal(module, name);
    if (!ALLOWED.has(g.qualname)) {
      throw new MedsamError(
        `${label}: refusing to unpickle ${g.qualname}: not a plain state dict`,
        'load only checkpoints from sources you trust, saved as torch.save(model.state_dict())',
      );
    }
    return g;
  };

  for (;;) {
    const op = bytes[need(1)];
    switch (op) {
      case 0x80:
        need(1);
        break; // PROTO
      case 0x95:
        need(8);
        break; // FRAME: framing is only a read-ahead hint
      case 0x2e: {
        // STOP
        const v = pop();
        return v;
      }
      case 0x28:
        metastack.push(stack.splice(0));
        break; // MARK
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x64: {
        // DICT
        const d = new Map<PyValue, PyValue>();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x6c:
      case 0x74:
        stack.push(popMark());
        break; // LIST, TUPLE
      case 0x91:
        stack.push(new Set(popMark()));
        break; // FROZENSET
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS on a non-set');
        for (const it of items) (s as Set<PyValue>).add(it);
        break;
      }
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      } // TUPLE3
      case 0x58:
        stack.push(str(dv.getUint32(need(4), true)));
        break; // BINUNICODE
      case 0x8c:
        stack.push(str(bytes[need(1)]));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(str(u64()));
        break; // BINUNICODE8
      case 0x55:
        stack.push(str(bytes[need(1)], latin1));
        break; // SHORT_BINSTRING
      case 0x54:
        stack.push(str(dv.getInt32(need(4), true), latin1));
        break; // BINSTRING
      case 0x43: {
        const n = bytes[need(1)];
        stack.push(bytes.slice(need(n), p));
        break;
      } // SHORT_BINBYTES
      case 0x42: {
        const n = dv.getUint32(need(4), true);
        stack.push(bytes.slice(need(n), p));
        break;
      } // BINBYTES
      case 0x8e: {
        const n = u64();
        stack.push(bytes.slice(need(n), p));
        break;
      } // BINBYTES8
      case 0x4a:
        stack.push(dv.getInt32(need(4), true));
        break; // BININT
      case 0x4b:
        stack.push(bytes[need(1)]);
        break; // BININT1
      case 0x4d:
        stack.push(dv.getUint16(need(2), true));
        break; // BININT2
      case 0x8a:
        stack.push(long(bytes[need(1)]));
        break; // LONG1
      case 0x8b:
        stack.push(long(dv.getInt32(need(4), true)));
        break; // LONG4
      case 0x47:
        stack.push(dv.getFloat64(need(8), false));
        break; // BINFLOAT (big-endian)
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const kv = popMark();
        setItems(top(), kv);
        break;
      } // SETITEMS
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) fail('APPEND on a non-list');
        (l as PyValue[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const vs = popMark();
        const l = top();
        if (!Array.isArray(l)) fail('APPENDS on a non-list');
        (l as PyValue[]).push(...vs);
        break;
      }
      case 0x71:
        memo.set(bytes[need(1)], top());
        break; // BINPUT
      case 0x72:
        memo.set(dv.getUint32(need(4), true), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a: {
        // BINGET, LONG_BINGET
        const i = op === 0x68 ? bytes[need(1)] : dv.getUint32(need(4), true);
        if (!memo.has(i)) fail(`memo entry ${i} missing at byte ${p}`);
        stack.push(memo.get(i)!);
        break;
      }
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x63: {
        // GLOBAL "module\nname\n"
        const nl1 = bytes.indexOf(0x0a, p);
        const nl2 = nl1 < 0 ? -1 : bytes.indexOf(0x0a, nl1 + 1);
        if (nl2 < 0) fail('GLOBAL name is truncated');
        const module = latin1.decode(bytes.subarray(p, nl1));
        const name = latin1.decode(bytes.subarray(nl1 + 1, nl2));
        p = nl2 + 1;
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof name !== 'string' || typeof module !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args, fail));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), same allow-list
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, fail));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, fail));
        break;
      }
      case 0x62: {
        // BUILD: object state (e.g. a state dict's `_metadata`) is not needed
        pop();
        top();
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        stack.push(persistentLoad(pid, fail));
        break;
      }
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${p - 1} (not a state dict, or a corrupt file)`);
    }
  }
}

function persistentLoad(pid: PyValue, fail: (why: string) => never): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) fail('unexpected persistent id (not a torch storage)');
  const [, type, key, location, numel] = pid as PyValue[];
  if (!(type instanceof PyGlobal) || !STORAGE_TYPES.has(type.name))
    fail(`unsupported storage type ${String(type instanceof PyGlobal ? type.qualname : type)}`);
  if (typeof key !== 'string' || typeof numel !== 'number') fail('malformed storage record');
  return { kind: 'storage', storageType: (type as PyGlobal).name, key: key as string, location: String(location), numel: numel as number };
}

function isIntList(v: PyValue): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
}

/** Interpret an allowed callable applied to `args` as data. */
function call(fn: PyValue, args: PyValue, fail: (why: string) => never): PyValue {
  if (!(fn instanceof PyGlobal)) return fail('REDUCE on a value that is not an allowed global');
  const a = Array.isArray(args) ? args : fail('REDUCE arguments are not a tuple');
  switch (fn.qualname) {
    case 'collections.OrderedDict': {
      const m = new Map<PyValue, PyValue>();
      const init = a[0];
      if (Array.isArray(init)) for (const kv of init) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
      return m;
    }
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride] = a;
      if (!storage || typeof storage !== 'object' || (storage as StorageRef).kind !== 'storage')
        fail('_rebuild_tensor_v2 without a storage');
      if (typeof offset !== 'number' || !isIntList(size) || !isIntList(stride) || size.length !== stride.length)
        fail('_rebuild_tensor_v2 with malformed size/stride');
      return {
        kind: 'tensor',
        storage: storage as StorageRef,
        offset: offset as number,
        shape: [...(size as number[])],
        stride: [...(stride as number[])],
      };
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return a[0];
    case 'builtins.set':
      return new Set(Array.isArray(a[0]) ? a[0] : []);
    case 'builtins.frozenset':
      return new Set(Array.isArray(a[0]) ? a[0] : []);
    case 'torch.device':
      return `device(${a.map(String).join(':')})`;
    case 'torch.serialization._get_layout':
      return `layout(${String(a[0])})`;
    case '_codecs.encode': {
      // protocol-2 spelling of a bytes literal: encode(str, 'latin1')
      const s = a[0];
      if (typeof s !== 'string') return fail('_codecs.encode of a non-string');
      return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
    }
    default:
      return fail(`${fn.qualname} cannot be called here`);
  }
}
