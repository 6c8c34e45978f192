/**
 * Shows a MedSAM2 case `.npz` (imgs (D,H,W), spacing) in NiiVue, which reads no npz: the core's
 * reader (src/io/npzCase.ts, the one the server and CLI use: same spacing order, limits and
 * messages) decodes it, and NiiVue's NIfTI writer wraps `imgs` as an in-memory NIfTI-1 image.
 * Voxel order is kept exactly (x = column fastest, then row, then slice), so voxel indices on
 * screen are the server's. The npz `direction`/`origin` are ignored for display (MedSAM2 files
 * often carry placeholder values); the image is shown as an axial LPS stack with its spacing.
 */
import { NVImage } from '@niivue/niivue';
import type { NumericArray } from '../../src/io/ndarray.js';
import { parseNpzCase } from '../../src/io/npzCase.js';

/** NIfTI datatype codes of the typed arrays the core's npy reader returns (int64 has no display here). */
function niftiCode(a: NumericArray): number | undefined {
  if (a instanceof Uint8Array) return 2;
  if (a instanceof Int8Array) return 256;
  if (a instanceof Int16Array) return 4;
  if (a instanceof Uint16Array) return 512;
  if (a instanceof Int32Array) return 8;
  if (a instanceof Uint32Array) return 768;
  if (a instanceof Float32Array) return 16;
  if (a instanceof Float64Array) return 64;
  return undefined;
}

/** NIfTI-1 bytes of the npz's `imgs` plus its grid, for NiiVue and the label overlay. */
export async function npzToNifti(bytes: Uint8Array, name = 'the .npz'): Promise<{ nifti: Uint8Array; dims: [number, number, number] }> {
  const { image } = parseNpzCase(bytes, name);
  const code = niftiCode(image.data);
  if (code === undefined) throw new Error(`"imgs" holds ${image.data.constructor.name} values, which this viewer does not show`);
  const sp = image.spacing;
  // LPS identity direction written as the RAS affine NIfTI wants (x and y negated).
  const affine = [-sp[0], 0, 0, 0, 0, -sp[1], 0, 0, 0, 0, sp[2], 0, 0, 0, 0, 1];
  const d = image.data;
  const data = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  const nifti = await NVImage.createNiftiArray([...image.dims], [...sp], affine, code, data);
  return { nifti, dims: image.dims };
}
