// MetaImage has no maintained npm reader; the format is "Key = Value" text plus raw or zlib voxels.
// Node-free: parses bytes; a detached .raw/.zraw comes through opts.readDataFile (path layer only).
import { MedsamError } from '../common/errors.js';
import { concatBytes, formatBytes, latin1 } from './bytes.js';
import { expandDataFileSpec } from './detachedData.js';
import { geometryFromAffineRepaired, type Affine3x4 } from './geometry.js';
import { inflateLimited, inflateSlack } from './inflateLimited.js';
import { decodeVoxels, VOXEL_BYTES, type VoxelType } from './rawVoxels.js';
import { checkVoxelCount } from './readLimits.js';
import { warnerOf, type ParseOptions } from './readOptions.js';
import type { Volume } from './volume.js';

export interface MetaImageHeader {
  kind: 'metaimage';
  fields: Record<string, string>;
}

/** MetaIO sizes: MET_LONG is 4 bytes, MET_LONG_LONG 8 (metaTypes.h). */
const TYPES: Record<string, VoxelType> = {
  MET_CHAR: 'int8',
  MET_UCHAR: 'uint8',
  MET_SHORT: 'int16',
  MET_USHORT: 'uint16',
  MET_INT: 'int32',
  MET_UINT: 'uint32',
  MET_LONG: 'int32',
  MET_ULONG: 'uint32',
  MET_LONG_LONG: 'int64',
  MET_ULONG_LONG: 'uint64',
  MET_FLOAT: 'float32',
  MET_DOUBLE: 'float64',
};

/** Parse .mha bytes (data inline; .mhd data through opts.readDataFile) into an LPS Volume (MetaImage is already LPS). */
export function parseMetaImage(bytes: Uint8Array, name: string, opts: ParseOptions = {}): Volume {
  const path = name;
  const { fields, dataStart } = parseHeader(bytes, path);
  const ndims = Number(fields.NDims);
  const dimSize = (fields.DimSize ?? '').trim().split(/\s+/).map(Number);
  if (!(ndims >= 2 && ndims <= 3) || dimSize.length < ndims) {
    throw new MedsamError(
      `MetaImage ${path} has NDims=${fields.NDims ?? '(missing)'} and DimSize="${fields.DimSize ?? ''}"`,
      'only 2D/3D images are supported',
    );
  }
  if (dimSize.slice(0, ndims).some((d) => !(Number.isInteger(d) && d > 0))) {
    throw new MedsamError(`MetaImage ${path} has a zero-size dimension (${dimSize.join('x')})`, 'the image is empty; re-export it');
  }
  const type = TYPES[(fields.ElementType ?? '').trim()];
  if (!type)
    throw new MedsamError(
      `MetaImage ${path} has unsupported ElementType "${fields.ElementType ?? '(missing)'}"`,
      'convert it to a scalar integer or float image',
    );
  const channels = Number(fields.ElementNumberOfChannels ?? 1);
  if (channels !== 1)
    throw new MedsamError(
      `MetaImage ${path} has ${channels} channels per voxel`,
      'only scalar images are supported; extract one channel first',
    );
  const dims = [dimSize[0], dimSize[1], ndims === 3 ? dimSize[2] : 1] as [number, number, number];
  const nvox = dims[0] * dims[1] * dims[2];
  checkVoxelCount(`MetaImage ${path}`, dims, opts);
  const need = nvox * VOXEL_BYTES[type];

  let payload = dataPayload(bytes, dataStart, fields, path, opts, dims[2]);
  const compressed = /^true$/i.test((fields.CompressedData ?? 'False').trim());
  if (compressed) {
    payload = inflateLimited(payload, {
      format: 'auto',
      limit: need + inflateSlack(need),
      label: `MetaImage ${path}`,
      declared: `${dims.join('x')} ${type} = ${formatBytes(need)}`,
      inflater: opts.inflate,
    });
  } else {
    const headerSize = Number(fields.HeaderSize ?? 0);
    // HeaderSize -1: the voxels are the last bytes of the data file.
    if (headerSize === -1) payload = payload.subarray(Math.max(0, payload.length - need));
    else if (headerSize > 0) payload = payload.subarray(headerSize);
  }
  if (payload.length < need)
    throw new MedsamError(
      `MetaImage ${path} is truncated (expected ${need} bytes of voxel data, got ${payload.length})`,
      're-export the file',
    );
  const msb = /^true$/i.test((fields.BinaryDataByteOrderMSB ?? fields.ElementByteOrderMSB ?? 'False').trim());
  const data = decodeVoxels(payload, 0, nvox, type, !msb);

  return {
    data,
    dims,
    ...geometry(fields, ndims, path, warnerOf(opts)),
    modality: modality(fields),
    source: { format: 'metaimage', path },
    header: { kind: 'metaimage', fields } satisfies MetaImageHeader,
  };
}

function parseHeader(bytes: Uint8Array, path: string): { fields: Record<string, string>; dataStart: number } {
  const fields: Record<string, string> = {};
  let pos = 0;
  // ElementDataFile is by definition the last header line; the binary data follows it.
  while (pos < bytes.length) {
    let nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) nl = bytes.length;
    const line = latin1(bytes.subarray(pos, nl)).replace(/\r$/, '');
    pos = nl + 1;
    if (!line.trim()) continue;
    const m = /^\s*([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      if (Object.keys(fields).length === 0) break;
      throw new MedsamError(`MetaImage ${path} has a malformed header line "${line.slice(0, 60)}"`, 're-export the file');
    }
    fields[m[1]] = m[2].trim();
    if (m[1] === 'ElementDataFile') return { fields, dataStart: Math.min(pos, bytes.length) };
  }
  if (!('NDims' in fields) && !('ObjectType' in fields))
    throw new MedsamError(`${path} is not a MetaImage file (no ObjectType/NDims header)`, 'pass a .mha or .mhd file');
  throw new MedsamError(`MetaImage ${path} is truncated or malformed (no ElementDataFile line ends the header)`, 're-export the file');
}

function dataPayload(
  bytes: Uint8Array,
  dataStart: number,
  fields: Record<string, string>,
  path: string,
  opts: ParseOptions,
  slices: number,
): Uint8Array {
  const file = fields.ElementDataFile;
  if (file === 'LOCAL') return bytes.subarray(dataStart);
  // LIST: the file names are the lines after the header line.
  const listLines = /^LIST/.test(file) ? latin1(bytes.subarray(dataStart)).split(/\r?\n/) : [];
  const names = expandDataFileSpec(file, listLines, `MetaImage header ${path}`, Math.max(1, slices));
  if (!opts.readDataFile) {
    throw new MedsamError(
      `MetaImage header ${path} keeps its voxels in a separate file (${names[0]}${names.length > 1 ? ', …' : ''}), which can only be read from a path`,
      'read the .mhd by path with its data file beside it, or save it as a single .mha',
    );
  }
  return concatBytes(names.map((n) => opts.readDataFile!(n)));
}

function numbers(s: string | undefined, n: number): number[] | undefined {
  if (s === undefined) return undefined;
  const v = s.trim().split(/\s+/).map(Number);
  return v.length >= n && v.slice(0, n).every(Number.isFinite) ? v.slice(0, n) : undefined;
}

/** MetaImage world space is LPS already. TransformMatrix lists each axis vector in turn (ITK reads it that way). */
function geometry(
  f: Record<string, string>,
  ndims: number,
  path: string,
  warn: (m: string) => void,
): Pick<Volume, 'spacing' | 'origin' | 'direction'> {
  const given = numbers(f.ElementSpacing ?? f.ElementSize, ndims) ?? Array<number>(ndims).fill(1);
  const bad = given.map((s, i) => (s > 0 ? -1 : i)).filter((i) => i >= 0);
  if (bad.length)
    warn(
      `MetaImage ${path} has zero or negative ElementSpacing (${given.join(' ')}); assuming 1 mm on axis ${bad.map((i) => 'xyz'[i]).join(', ')}`,
    );
  const sp = given.map((s) => (s > 0 ? s : 1));
  const origin = numbers(f.Offset ?? f.Position ?? f.Origin, ndims) ?? Array<number>(ndims).fill(0);
  const tm = numbers(f.TransformMatrix ?? f.Rotation ?? f.Orientation, ndims * ndims);
  const axes = [0, 1, 2].map((a) => [0, 1, 2].map((r) => (a < ndims && r < ndims && tm ? tm[a * ndims + r] : a === r ? 1 : 0)));
  const spacing = [sp[0], sp[1], ndims === 3 ? sp[2] : 1];
  const m: Affine3x4 = [0, 1, 2].map((r) => [
    axes[0][r] * spacing[0],
    axes[1][r] * spacing[1],
    axes[2][r] * spacing[2],
    r < ndims ? origin[r] : 0,
  ]) as Affine3x4;
  return geometryFromAffineRepaired(m, (axes) =>
    warn(`MetaImage ${path} has a degenerate TransformMatrix on axis ${axes.map((c) => 'xyz'[c]).join(', ')}; assuming a unit axis there`),
  );
}

function modality(f: Record<string, string>): string | undefined {
  const m = (f.Modality ?? '').replace(/^MET_MOD_/, '').trim();
  return m && m !== 'UNKNOWN' ? m : undefined;
}
