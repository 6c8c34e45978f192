// Hand-written rather than nrrd-js: nrrd-js 0.2.1 cannot decode gzip (the encoding almost every
// medical NRRD uses), ignores detached data files and prints console warnings; the header
// grammar itself is a few lines of "field: value" text.
// Node-free: parses bytes; detached data files come through opts.readDataFile (path layer only).
import { MedsamError } from '../common/errors.js';
import { concatBytes, formatBytes, latin1 } from './bytes.js';
import { expandDataFileSpec } from './detachedData.js';
import { geometryFromAffineRepaired, type Affine3x4, type Vec3 } from './geometry.js';
import { inflateLimited, inflateSlack } from './inflateLimited.js';
import { decodeVoxels, VOXEL_BYTES, type VoxelType } from './rawVoxels.js';
import { checkVoxelCount } from './readLimits.js';
import { warnerOf, type ParseOptions } from './readOptions.js';
import type { Volume } from './volume.js';

export interface NrrdHeader {
  kind: 'nrrd';
  /** Every "field: value" line, lower-cased field names. */
  fields: Record<string, string>;
  /** "key:=value" pairs. */
  keyValues: Record<string, string>;
}

const TYPES: Record<string, VoxelType> = {};
const addTypes = (t: VoxelType, names: string[]): void => names.forEach((n) => (TYPES[n] = t));
addTypes('int8', ['signed char', 'int8', 'int8_t']);
addTypes('uint8', ['uchar', 'unsigned char', 'uint8', 'uint8_t']);
addTypes('int16', ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t']);
addTypes('uint16', ['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t']);
addTypes('int32', ['int', 'signed int', 'int32', 'int32_t']);
addTypes('uint32', ['uint', 'unsigned int', 'uint32', 'uint32_t']);
addTypes('int64', ['longlong', 'long long', 'long long int', 'signed long long', 'signed long long int', 'int64', 'int64_t']);
addTypes('uint64', ['ulonglong', 'unsigned long long', 'unsigned long long int', 'uint64', 'uint64_t']);
addTypes('float32', ['float']);
addTypes('float64', ['double']);

/** World-axis sign flips that take each NRRD space to LPS. */
const SPACE_TO_LPS: Record<string, Vec3> = {
  'left-posterior-superior': [1, 1, 1],
  lps: [1, 1, 1],
  'right-anterior-superior': [-1, -1, 1],
  ras: [-1, -1, 1],
  'left-anterior-superior': [1, -1, 1],
  las: [1, -1, 1],
  // No anatomical meaning: taken as LPS, like ITK does.
  'scanner-xyz': [1, 1, 1],
  '3d-right-handed': [1, 1, 1],
  '3d-left-handed': [1, 1, 1],
};

/**
 * Parse .nrrd bytes (raw, gzip or ascii encoding) into an LPS Volume; `name` labels messages.
 * Detached data (.nhdr) needs opts.readDataFile, which only the path layer gives.
 */
export function parseNrrd(bytes: Uint8Array, name: string, opts: ParseOptions = {}): Volume {
  const path = name;
  const { header, dataStart } = parseHeader(bytes, path);
  const f = header.fields;
  const type = TYPES[(f.type ?? '').toLowerCase()];
  if (!type)
    throw new MedsamError(
      `NRRD file ${path} has unsupported type "${f.type ?? '(missing)'}"`,
      'convert it to a scalar integer or float image',
    );
  const dimension = Number(f.dimension);
  const sizes = (f.sizes ?? '').trim().split(/\s+/).map(Number);
  if (!(dimension >= 1) || sizes.length !== dimension || sizes.some((s) => !Number.isInteger(s))) {
    throw new MedsamError(`NRRD file ${path} has inconsistent "dimension: ${f.dimension}" and "sizes: ${f.sizes}"`, 're-export the file');
  }
  if (sizes.some((s) => s <= 0))
    throw new MedsamError(`NRRD file ${path} has a zero-size dimension (${sizes.join('x')})`, 'the image is empty; re-export it');
  const spatial = spatialAxes(f, dimension, path);
  if (spatial.length < dimension) {
    const extra = [...Array(dimension).keys()].filter((i) => !spatial.includes(i));
    if (extra.some((i) => sizes[i] > 1)) {
      throw new MedsamError(
        `NRRD file ${path} has non-spatial axes (${extra.map((i) => `${(f.kinds ?? '').split(/\s+/)[i] ?? 'axis ' + i} of size ${sizes[i]}`).join(', ')})`,
        'only scalar 2D/3D images are supported; extract one component or volume first',
      );
    }
  }
  if (spatial.length > 3) throw new MedsamError(`NRRD file ${path} has ${spatial.length} spatial axes`, 'only 2D/3D images are supported');
  const dims = [0, 1, 2].map((i) => (i < spatial.length ? sizes[spatial[i]] : 1)) as [number, number, number];
  const nvox = sizes.reduce((a, b) => a * b, 1);
  checkVoxelCount(`NRRD file ${path}`, sizes, opts);

  const encoding = (f.encoding ?? 'raw').toLowerCase();
  let payload = dataPayload(bytes, dataStart, f, path, opts, sizes[sizes.length - 1]);
  const byteSkip = Number(f['byte skip'] ?? 0);
  let data: Volume['data'];
  if (encoding === 'raw' || encoding === 'gzip' || encoding === 'gz') {
    const need = nvox * VOXEL_BYTES[type];
    if (encoding !== 'raw') {
      const allowed = need + Math.max(0, byteSkip) + inflateSlack(need);
      payload = inflateLimited(payload, {
        format: 'gzip',
        limit: allowed,
        label: path,
        declared: `${sizes.join('x')} ${type} = ${formatBytes(need)}`,
        inflater: opts.inflate,
      });
    }
    // byte skip -1 means "the data is the last `need` bytes".
    const start = byteSkip === -1 ? payload.length - need : byteSkip;
    const got = payload.length - Math.max(0, start);
    if (start < 0 || got < need)
      throw new MedsamError(
        `NRRD file ${path} is truncated (expected ${need} bytes of voxel data, got ${Math.max(0, got)})`,
        're-export the file',
      );
    const endian = (f.endian ?? 'little').toLowerCase();
    data = decodeVoxels(payload, start, nvox, type, endian !== 'big');
  } else if (encoding === 'ascii' || encoding === 'text' || encoding === 'txt') {
    const values = new TextDecoder()
      .decode(payload)
      .trim()
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number);
    if (values.length < nvox)
      throw new MedsamError(`NRRD file ${path} is truncated (expected ${nvox} ascii values, got ${values.length})`, 're-export the file');
    data = type === 'float64' ? Float64Array.from(values.slice(0, nvox)) : Float32Array.from(values.slice(0, nvox));
  } else {
    throw new MedsamError(
      `NRRD file ${path} uses unsupported encoding "${encoding}"`,
      're-save it with raw or gzip encoding (e.g. in 3D Slicer)',
    );
  }

  const warn = warnerOf(opts);
  return { data, dims, ...nrrdGeometry(f, spatial, path, warn), modality: modalityHint(header), source: { format: 'nrrd', path }, header };
}

function parseHeader(bytes: Uint8Array, path: string): { header: NrrdHeader; dataStart: number } {
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (!/^NRRD000\d$/.test(magic)) throw new MedsamError(`${path} is not a NRRD file (no NRRD000x magic)`, 'pass a .nrrd or .nhdr file');
  // The header ends at the first empty line; it is ASCII, so scanning bytes is safe.
  let end = -1;
  let dataStart = bytes.length;
  for (let i = 0; i < bytes.length - 1; i++) {
    if (bytes[i] === 0x0a && bytes[i + 1] === 0x0a) {
      end = i;
      dataStart = i + 2;
      break;
    }
    if (bytes[i] === 0x0a && bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) {
      end = i;
      dataStart = i + 3;
      break;
    }
  }
  const text = latin1(bytes.subarray(0, end < 0 ? bytes.length : end));
  const fields: Record<string, string> = {};
  const keyValues: Record<string, string> = {};
  const lines = text.split(/\r?\n/).slice(1);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('#') || line.trim() === '') continue;
    const kv = /^([^:]+):=(.*)$/.exec(line);
    if (kv) {
      keyValues[kv[1]] = kv[2];
      continue;
    }
    const m = /^([^:]+):\s?(.*)$/.exec(line);
    if (!m) throw new MedsamError(`NRRD file ${path} has a malformed header line "${line.slice(0, 60)}"`, 're-export the file');
    const key = m[1].trim().toLowerCase();
    fields[key] = m[2].trim();
    // "data file: LIST" lists one file per following line.
    if ((key === 'data file' || key === 'datafile') && /^LIST/.test(fields[key])) {
      fields[key] =
        'LIST\n' +
        lines
          .slice(i + 1)
          .filter((l) => l.trim())
          .join('\n');
      break;
    }
  }
  if (end < 0 && !(fields['data file'] ?? fields.datafile)) {
    throw new MedsamError(`NRRD file ${path} is truncated (the header never ends, so there is no voxel data)`, 're-export the file');
  }
  return { header: { kind: 'nrrd', fields, keyValues }, dataStart };
}

/** The voxel bytes: after the header, or in the detached file(s) a .nhdr names. */
function dataPayload(
  bytes: Uint8Array,
  dataStart: number,
  f: Record<string, string>,
  path: string,
  opts: ParseOptions,
  slices: number,
): Uint8Array {
  const dataFile = f['data file'] ?? f.datafile;
  if (!dataFile) {
    const lineSkip = Number(f['line skip'] ?? 0);
    let start = dataStart;
    for (let n = 0; n < lineSkip; n++) {
      const nl = bytes.indexOf(0x0a, start);
      start = nl < 0 ? bytes.length : nl + 1;
    }
    return bytes.subarray(start);
  }
  const [spec, ...listLines] = dataFile.split('\n');
  const names = expandDataFileSpec(spec, listLines, `NRRD header ${path}`, Math.max(1, slices));
  if (!opts.readDataFile) {
    throw new MedsamError(
      `NRRD header ${path} keeps its voxels in a separate data file (${names[0]}${names.length > 1 ? ', …' : ''}), which can only be read from a path`,
      'read the .nhdr by path with its data file beside it, or save it as a single .nrrd',
    );
  }
  return concatBytes(names.map((n) => opts.readDataFile!(n)));
}

/**
 * The `(x,y,z)` vectors and `none`s of a "space directions" value. A vector may not hold '(': with
 * `[^)]*` a damaged value of 50,000 unclosed '(' was scanned to its end from each one (quadratic:
 * 14 s for a 190 KB line); `[^()]*` stops at the next '(', so the scan is linear.
 */
function directionTokens(dirs: string): string[] {
  return dirs.match(/\([^()]*\)|none/gi) ?? [];
}

/** Indices of the axes that carry space: those with a direction vector (or, old style, a spacing). */
function spatialAxes(f: Record<string, string>, dimension: number, path: string): number[] {
  const dirs = f['space directions'];
  if (dirs !== undefined) {
    const tokens = directionTokens(dirs);
    if (tokens.length !== dimension)
      throw new MedsamError(`NRRD file ${path} has ${tokens.length} space directions for ${dimension} axes`, 're-export the file');
    return tokens.map((t, i) => (t.toLowerCase() === 'none' ? -1 : i)).filter((i) => i >= 0);
  }
  const kinds = (f.kinds ?? '').split(/\s+/).filter(Boolean);
  const all = [...Array(dimension).keys()];
  if (kinds.length !== dimension) return all;
  return all.filter(
    (i) =>
      !/^(rgb-color|rgba-color|vector|list|point|covariant-vector|normal|3-color|4-color|hsv-color|xyz-color|time|complex|[23]-vector|3-gradient|3-normal|4-vector|quaternion|[23]d-[\w-]*)$/i.test(
        kinds[i],
      ),
  );
}

function parseVector(t: string, path: string): number[] {
  const v = t
    .replace(/[()]/g, '')
    .split(',')
    .map((x) => Number(x.trim()));
  if (v.some((x) => !Number.isFinite(x))) throw new MedsamError(`NRRD file ${path} has a malformed vector "${t}"`, 're-export the file');
  return v;
}

function nrrdGeometry(
  f: Record<string, string>,
  spatial: number[],
  path: string,
  warn: (m: string) => void,
): Pick<Volume, 'spacing' | 'origin' | 'direction'> {
  const space = (f.space ?? '').toLowerCase();
  const flip: Vec3 = space ? (SPACE_TO_LPS[space] ?? [1, 1, 1]) : [1, 1, 1];
  if (space && !SPACE_TO_LPS[space]) {
    throw new MedsamError(`NRRD file ${path} has unsupported space "${f.space}"`, 'only 3D spaces (LPS/RAS/LAS/scanner-xyz) are supported');
  }
  const m: Affine3x4 = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
  ];
  const dirs = f['space directions'];
  if (dirs !== undefined) {
    const tokens = directionTokens(dirs).filter((t) => t.toLowerCase() !== 'none');
    tokens.forEach((t, c) => {
      const v = parseVector(t, path);
      for (let r = 0; r < 3; r++) m[r][c] = (v[r] ?? 0) * flip[r];
    });
  } else {
    // Old-style "spacings" without orientation: axis-aligned grid.
    const sp = (f.spacings ?? '').split(/\s+/).map(Number);
    const bad: number[] = [];
    spatial.forEach((ax, c) => {
      if (Number.isFinite(sp[ax]) && sp[ax] > 0) m[c][c] = sp[ax];
      else if (f.spacings !== undefined && sp[ax] !== undefined && !Number.isNaN(sp[ax])) bad.push(c);
    });
    if (bad.length)
      warn(`NRRD file ${path} has zero or negative spacings (${f.spacings}); assuming 1 mm on axis ${bad.map((c) => 'xyz'[c]).join(', ')}`);
  }
  // A 2D image gets a unit third axis orthogonal to the first two.
  if (spatial.length < 3) {
    for (let c = spatial.length; c < 3; c++) {
      const n = [m[1][0] * m[2][1] - m[2][0] * m[1][1], m[2][0] * m[0][1] - m[0][0] * m[2][1], m[0][0] * m[1][1] - m[1][0] * m[0][1]];
      const len = Math.hypot(n[0], n[1], n[2]);
      for (let r = 0; r < 3; r++) m[r][c] = c === 2 && len > 0 ? n[r] / len : r === c ? 1 : 0;
    }
  }
  if (f['space origin']) {
    const o = parseVector(f['space origin'], path);
    for (let r = 0; r < 3; r++) m[r][3] = (o[r] ?? 0) * flip[r];
  }
  return geometryFromAffineRepaired(m, (axes) =>
    warn(
      `NRRD file ${path} has a zero-length space direction on axis ${axes.map((c) => 'xyz'[c]).join(', ')}; assuming 1 mm spacing there`,
    ),
  );
}

/** NRRD has no modality field; Slicer and pynrrd sometimes leave one in key/values. */
function modalityHint(h: NrrdHeader): string | undefined {
  const m = h.keyValues.Modality ?? h.keyValues.modality ?? h.keyValues['DICOM_0008_0060'];
  return m?.trim() || undefined;
}
