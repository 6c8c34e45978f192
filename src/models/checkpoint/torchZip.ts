import { MedsamError } from '../../common/errors.js';
import type { DType, NdArray } from '../../io/ndarray.js';
import { ZipArchive } from '../../io/zip.js';
import { TORCH_STORAGE_TYPES, gatherTensor } from './storage.js';
import { unpickle, type PyValue, type TensorRef } from './unpickler.js';

/**
 * PyTorch's zip checkpoint format (torch.save since 1.6): `<name>/data.pkl` is a pickle whose
 * tensors point (by persistent id) at raw storage records `<name>/data/<key>`; `<name>/byteorder`
 * says the storages' endianness (absent = little).
 */
export interface StateDict {
  tensors: Map<string, NdArray>;
  sourceDtypes: Map<string, DType>;
}

const FIX = 're-download the checkpoint or re-save it with torch.save';

function isTensorRef(v: PyValue): v is TensorRef {
  return v !== null && typeof v === 'object' && (v as TensorRef).kind === 'tensor';
}

/** Find the state dict: the official `{"model": state_dict}` layout, `{"state_dict": ...}`, or a bare state dict. */
function findStateDict(root: PyValue, label: string): Map<PyValue, PyValue> {
  if (!(root instanceof Map))
    throw new MedsamError(
      `${label} does not hold a dict of tensors`,
      'pass a checkpoint saved as torch.save({"model": model.state_dict()}) or torch.save(model.state_dict())',
    );
  for (const key of ['model', 'state_dict']) {
    const v = root.get(key);
    if (v instanceof Map && [...v.values()].some(isTensorRef)) return v;
  }
  if ([...root.values()].some(isTensorRef)) return root;
  const keys = [...root.keys()].slice(0, 10).map(String).join(', ');
  throw new MedsamError(
    `${label} has no state dict (top-level keys: ${keys || 'none'})`,
    'pass a checkpoint saved as torch.save({"model": model.state_dict()}) or torch.save(model.state_dict())',
  );
}

export function readTorchZip(bytes: Uint8Array, label: string): StateDict {
  const zip = ZipArchive.open(bytes, label, 'PyTorch checkpoint (zip archive)');
  const pkl = zip.names().find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pkl) throw new MedsamError(`${label} is a zip archive but has no data.pkl, so it is not a PyTorch checkpoint`, FIX);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const byteorderName = `${prefix}byteorder`;
  let bigEndian = false;
  if (zip.has(byteorderName)) {
    const order = new TextDecoder().decode(zip.read(byteorderName)).trim();
    if (order !== 'little' && order !== 'big') throw new MedsamError(`${label}: unknown byteorder '${order}'`, FIX);
    bigEndian = order === 'big';
  }
  const root = unpickle(zip.read(pkl), label);
  const sd = findStateDict(root, label);

  const tensors = new Map<string, NdArray>();
  const sourceDtypes = new Map<string, DType>();
  const storages = new Map<string, Uint8Array>();
  for (const [k, v] of sd) {
    if (!isTensorRef(v)) continue; // non-tensor extras (e.g. `_extra_state`) are not weights
    const key = String(k);
    const type = TORCH_STORAGE_TYPES[v.storage.storageType];
    const record = `${prefix}data/${v.storage.key}`;
    let raw = storages.get(record);
    if (!raw) {
      if (!zip.has(record))
        throw new MedsamError(
          `${label}: tensor '${key}' points to storage record ${record}, which is missing (the file is truncated or corrupt)`,
          FIX,
        );
      raw = zip.read(record);
      if (raw.length < v.storage.numel * type.size) {
        throw new MedsamError(`${label}: storage record ${record} has ${raw.length} bytes, expected ${v.storage.numel * type.size}`, FIX);
      }
      storages.set(record, raw);
    }
    tensors.set(key, gatherTensor(raw, type, v.offset, v.shape, v.stride, bigEndian, `${label}: tensor '${key}'`));
    sourceDtypes.set(key, type.dtype);
  }
  return { tensors, sourceDtypes };
}
