/**
 * The scan a client shows, as the server read it: a volume upload (DICOM zip, PNG, JPEG, or any
 * other) encoded as a NIfTI-1 image with the very voxels, spacing, origin and direction that a
 * session on it segments. The web app displays this for every format NiiVue cannot read itself
 * (DICOM series, PNG, JPEG), so what is drawn cannot disagree with the grid that prompts and label
 * maps are counted on: slice order, orientation, rescale to HU and colour → luminance are the
 * server's decisions, made once (src/io/dicom/series.ts, src/io/image2d.ts). NIfTI, NRRD, MHA and
 * npz keep being drawn from the local file (no second download; their geometry is the header
 * NiiVue reads and their tests compare the app's masks with the CLI's).
 *
 * The bytes are src/io/niftiWrite.ts's (the writer the masks use, with the volume's own datatype).
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { encodeNiftiImage } from '../../io/niftiWrite.js';
import type { Volume } from '../../io/volume.js';

const gzipAsync = promisify(gzip);

/** Gzipped display NIfTIs, one per parsed volume: kept while the volume cache keeps the volume. */
const encoded = new WeakMap<Volume, Promise<Buffer>>();

/** `.nii.gz` bytes of `v` (level 1: a fraction of level 6's time for a few % more bytes), encoded once per parsed volume. */
export function displayNiftiGz(v: Volume): Promise<Buffer> {
  let p = encoded.get(v);
  if (!p) {
    p = gzipAsync(encodeNiftiImage(v, 'medsam2.js display', 'the display volume'), { level: 1 });
    encoded.set(v, p);
    p.catch(() => encoded.delete(v));
  }
  return p;
}
