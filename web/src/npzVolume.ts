/**
 * Shows a MedSAM2 case `.npz` (imgs (D,H,W), spacing) in NiiVue, which reads no npz: the `imgs`
 * array becomes a NIfTI-1 image in memory. fflate unzips (as the server's reader does); the .npy
 * header is parsed here because it is a dozen lines and no browser npy library is kept up.
 * Voxel order is kept exactly (x = column fastest, then row, then slice), so voxel indices on
 * screen are the server's. The npz `direction`/`origin` are ignored for display (MedSAM2 files
 * often carry placeholder values); the image is shown as an axial LPS stack with its spacing.
 */
import { unzipSync } from 'fflate';
import { NVImage } from '@niivue/niivue';
import { type Npy, parseNpy } from './npy.js';

const NIFTI_CODE: Record<string, number> = { u1: 2, i1: 256, i2: 4, u2: 512, i4: 8, u4: 768, f4: 16, f8: 64 };

/** In-plane pair equal decides the order of `spacing`, as the server's reader does (ties: x,y,z). */
function spacingXyz(s: number[] | undefined): [number, number, number] {
  if (!s || s.length !== 3 || s.some((v) => !(v > 0))) return [1, 1, 1];
  if (s[0] === s[1]) return [s[0]!, s[1]!, s[2]!];
  if (s[1] === s[2]) return [s[2]!, s[1]!, s[0]!];
  return [s[0]!, s[1]!, s[2]!];
}

function numbers(a: Npy): number[] {
  const b = a.bytes.slice();
  if (a.dtype === 'f8') return Array.from(new Float64Array(b.buffer));
  if (a.dtype === 'f4') return Array.from(new Float32Array(b.buffer));
  return [];
}

/** NIfTI-1 bytes of the npz's `imgs` plus its grid, for NiiVue and the label overlay. */
export async function npzToNifti(bytes: Uint8Array): Promise<{ nifti: Uint8Array; dims: [number, number, number] }> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => f.name === 'imgs.npy' || f.name === 'spacing.npy' });
  } catch {
    throw new Error('the file is not a readable .npz (zip) archive');
  }
  if (!files['imgs.npy']) throw new Error('the .npz has no "imgs" array (a MedSAM2 case needs imgs (D,H,W))');
  const imgs = parseNpy(files['imgs.npy'], 'imgs');
  const code = NIFTI_CODE[imgs.dtype];
  if (code === undefined) throw new Error(`"imgs" has dtype ${imgs.dtype}, which this viewer does not show`);
  let dims: [number, number, number];
  if (imgs.shape.length === 3) dims = [imgs.shape[2]!, imgs.shape[1]!, imgs.shape[0]!];
  else if (imgs.shape.length === 2) dims = [imgs.shape[1]!, imgs.shape[0]!, 1];
  else throw new Error(`"imgs" has shape (${imgs.shape.join(', ')}); expected (D,H,W) or (H,W)`);
  const sp = spacingXyz(files['spacing.npy'] ? numbers(parseNpy(files['spacing.npy'], 'spacing')) : undefined);
  // LPS identity direction written as the RAS affine NIfTI wants (x and y negated).
  const affine = [-sp[0], 0, 0, 0, 0, -sp[1], 0, 0, 0, 0, sp[2], 0, 0, 0, 0, 1];
  const data = imgs.bytes.slice();
  const nifti = await NVImage.createNiftiArray(dims, sp, affine, code, data);
  return { nifti, dims };
}
