import { createReadStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { MedsamError } from '../../common/errors.js';
import { readVolume } from '../../io/readVolume.js';
import { voxelCount, type Volume, type VolumeFormat } from '../../io/volume.js';
import { ZipArchive } from '../../io/zip.js';
import { HttpError, fromMedsamError } from '../httpError.js';

/**
 * Turns a stored upload into a Volume within the server's limits. The io readers take a path and
 * trust their input's sizes, so before handing them a file this checks what it would expand to:
 * gzip streams are inflated once, counting, and stopped at the limit; zip archives (npz, a DICOM
 * series) are checked by their declared member sizes, and members are inflated into buffers of
 * exactly that size (a member that lies fails its length/CRC check). A DICOM zip is unpacked into a
 * private temp folder under generated names: no member name ever becomes a path.
 */

export type UploadFormat = Exclude<VolumeFormat, 'dicom'> | 'dicom-zip';
export const UPLOAD_FORMATS: readonly UploadFormat[] = ['nifti', 'nrrd', 'metaimage', 'npz', 'dicom-zip', 'png', 'jpeg'];

export interface VolumeLimits {
  /** Bytes a compressed upload may expand to. */
  maxDecompressedBytes: number;
  maxVoxels: number;
  /** Largest size along any axis (slices / frames). */
  maxSlices: number;
}

const BY_NAME: [RegExp, UploadFormat][] = [
  [/\.nii(\.gz)?$/i, 'nifti'],
  [/\.nrrd$/i, 'nrrd'],
  [/\.mha$/i, 'metaimage'],
  [/\.npz$/i, 'npz'],
  [/\.zip$/i, 'dicom-zip'],
  [/\.png$/i, 'png'],
  [/\.jpe?g$/i, 'jpeg'],
];

const SUPPORTED = '.nii/.nii.gz, .nrrd (attached data), .mha, .npz, .zip of a DICOM series, .png, .jpg';

/** The format of an upload: the client's explicit choice, else its name's extension, else its first bytes. */
export function uploadFormat(name: string, head: Uint8Array, explicit?: UploadFormat): UploadFormat {
  if (explicit) return explicit;
  if (/\.(nhdr|mhd)$/i.test(name)) {
    throw new HttpError(
      415,
      `'${name}' is a header with detached data, which cannot be uploaded as one file`,
      'upload an .nrrd or .mha with the data attached, or a NIfTI',
    );
  }
  for (const [re, f] of BY_NAME) if (re.test(name)) return f;
  const text = String.fromCharCode(...head.subarray(0, 64));
  if (head[0] === 0x50 && head[1] === 0x4b) return 'npz';
  if (text.startsWith('NRRD000')) return 'nrrd';
  if (/^\s*(ObjectType|NDims)\s*=/.test(text)) return 'metaimage';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'nifti';
  if (head[0] === 0x89 && text.startsWith('\x89PNG')) return 'png';
  if (head[0] === 0xff && head[1] === 0xd8) return 'jpeg';
  if (head.length >= 4) {
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if ([348, 540].some((n) => dv.getInt32(0, true) === n || dv.getInt32(0, false) === n)) return 'nifti';
  }
  throw new HttpError(
    415,
    `cannot tell the image format of upload '${name}'`,
    `name it with its extension or pass ?format=; supported: ${SUPPORTED}`,
  );
}

function tooBig(what: string, limit: number, flag: string): HttpError {
  return new HttpError(413, `${what} exceeds the server's limit of ${limit}`, `send a smaller image or ask the admin to raise ${flag}`);
}

/**
 * Inflates a gzip stream without keeping it, failing as soon as it passes `limit` bytes. The file
 * and the inflater are one pipeline: a file that cannot be read (removed meanwhile by a refused
 * upload of the same bytes) fails this check, not the process (`.pipe` left the file's 'error'
 * unheard: an uncaught ENOENT, and a check that never ended).
 */
async function checkGunzipSize(path: string, offset: number, limit: number, name: string): Promise<void> {
  let total = 0;
  const gz = pipeline(createReadStream(path, { start: offset }), createGunzip(), () => {});
  try {
    for await (const chunk of gz) {
      total += (chunk as Buffer).length;
      if (total > limit) {
        gz.destroy();
        throw tooBig(`upload '${name}' decompresses to more than ${limit} bytes, which`, limit, '--max-decompressed-bytes');
      }
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new HttpError(
        409,
        `upload '${name}' was removed from the store while it was read (the same bytes were refused in another upload at that moment)`,
        'send the file again',
      );
    throw new HttpError(400, `upload '${name}' is not valid gzip data (${(e as Error).message})`, 're-export the file');
  }
}

function checkZip(bytes: Uint8Array, name: string, limits: VolumeLimits): ZipArchive {
  let zip: ZipArchive;
  try {
    zip = ZipArchive.open(bytes, `upload '${name}'`);
  } catch (e) {
    if (e instanceof MedsamError) throw fromMedsamError(e);
    throw e;
  }
  let total = 0;
  for (const e of zip.entries.values()) {
    total += e.size;
    if (total > limits.maxDecompressedBytes) {
      throw tooBig(
        `upload '${name}' (a zip archive) declares ${zip.entries.size} members that decompress to more than ${limits.maxDecompressedBytes} bytes, which`,
        limits.maxDecompressedBytes,
        '--max-decompressed-bytes',
      );
    }
  }
  return zip;
}

/** NRRD with gzip-encoded attached data: where the data starts, or -1. */
function nrrdGzipOffset(bytes: Uint8Array): number {
  const headLen = Math.min(bytes.length, 64 * 1024);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, headLen).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  if (end < 0) return -1;
  if (!/^encoding:\s*(gz|gzip)\s*$/im.test(text.slice(0, end))) return -1;
  return end + text.slice(end, end + 4).match(/^\r?\n\r?\n/)![0].length;
}

async function readDicomZip(zip: ZipArchive, name: string, scratch: string, limits: VolumeLimits): Promise<Volume> {
  const members = zip.names().filter((n) => !n.endsWith('/') && !/(^|\/)(__MACOSX|\.DS_Store)/.test(n));
  if (members.length === 0) throw new HttpError(400, `upload '${name}' is an empty zip archive`, 'zip the DICOM files of one series');
  if (members.length > limits.maxSlices)
    throw tooBig(`upload '${name}' holds ${members.length} files, which`, limits.maxSlices, '--max-slices');
  mkdirSync(scratch, { recursive: true });
  try {
    members.forEach((m, i) => writeFileSync(join(scratch, `${String(i).padStart(6, '0')}.dcm`), zip.read(m)));
    return await readVolume(scratch, { format: 'dicom' });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Reads a stored upload. `blobPath` never appears in what a client sees: library errors that
 * name it are rewritten to name the upload.
 */
export async function readUploadedVolume(
  blobPath: string,
  name: string,
  format: UploadFormat,
  limits: VolumeLimits,
  scratch: string,
): Promise<Volume> {
  const hide = (m: string) => m.split(scratch).join(`upload '${name}'`).split(blobPath).join(`upload '${name}'`);
  let v: Volume | undefined;
  try {
    const bytes = new Uint8Array(readFileSync(blobPath));
    if (format === 'nifti' && bytes[0] === 0x1f && bytes[1] === 0x8b) await checkGunzipSize(blobPath, 0, limits.maxDecompressedBytes, name);
    if (format === 'nrrd') {
      const off = nrrdGzipOffset(bytes);
      if (off > 0) await checkGunzipSize(blobPath, off, limits.maxDecompressedBytes, name);
    }
    if (format === 'npz' || format === 'dicom-zip') {
      const zip = checkZip(bytes, name, limits);
      if (format === 'dicom-zip') v = await readDicomZip(zip, name, scratch, limits);
      else if (!zip.has('imgs.npy'))
        throw new HttpError(
          400,
          `upload '${name}' is a zip without imgs.npy`,
          'upload a MedSAM2 .npz case (imgs) or name a DICOM zip *.zip',
        );
    }
    v ??= await readVolume(blobPath, { format: format === 'dicom-zip' ? 'dicom' : format });
  } catch (e) {
    if (e instanceof HttpError) throw new HttpError(e.status, hide(e.message), e.fix);
    if (e instanceof MedsamError) {
      const h = fromMedsamError(e);
      throw new HttpError(400, hide(h.message), h.fix);
    }
    throw new HttpError(
      400,
      `upload '${name}' cannot be read as ${format}: ${hide((e as Error).message ?? String(e))}`,
      `check the file; supported: ${SUPPORTED}`,
    );
  }
  const n = voxelCount(v);
  if (n > limits.maxVoxels) throw tooBig(`upload '${name}' has ${v.dims.join('x')} = ${n} voxels, which`, limits.maxVoxels, '--max-voxels');
  const longest = Math.max(...v.dims);
  if (longest > limits.maxSlices)
    throw tooBig(`upload '${name}' has ${longest} slices along one axis (${v.dims.join('x')}), which`, limits.maxSlices, '--max-slices');
  // Messages and write-back must not carry the store's path (nor the DICOM scratch files, gone by now).
  v.source = { ...v.source, path: name };
  const h = v.header as { kind?: string; files?: string[] } | undefined;
  if (h?.kind === 'dicom' && Array.isArray(h.files)) v.header = { ...h, files: h.files.map((f) => `${name}:${f.split('/').pop()}`) };
  return v;
}
