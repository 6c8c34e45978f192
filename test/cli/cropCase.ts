import type { NdArray } from '../../src/io/ndarray.js';
import { readNpz, writeNpz } from '../../src/io/npzFile.js';

/**
 * Writes slices [z0, z1] of a MedSAM2 case .npz (imgs, gts and the geometry arrays) as a new .npz,
 * so CLI tests run one real segmentation on few slices (the encoder is the cost, ~1–2 s per slice).
 */
export async function cropNpzCase(src: string, dst: string, z0: number, z1: number): Promise<void> {
  const a = await readNpz(src);
  const out: Record<string, NdArray> = {};
  for (const [k, v] of Object.entries(a)) {
    if (v.shape.length === 3 && (k === 'imgs' || k === 'gts' || k === 'recist')) {
      const plane = v.shape[1]! * v.shape[2]!;
      out[k] = { dtype: v.dtype, shape: [z1 - z0 + 1, v.shape[1]!, v.shape[2]!], data: v.data.slice(z0 * plane, (z1 + 1) * plane) };
    } else out[k] = v;
  }
  await writeNpz(dst, out, { compress: true });
}
