/**
 * The Node layer over the browser-safe DICOM core (./dicom/series.ts): walks a folder (or takes one
 * file), reads the bytes and hands them over. A DICOM SEG file is read onto a grid when the caller
 * gives one (`grid`: the image the mask belongs to), e.g. `--mask liver.seg.dcm` or an eval reference.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { readFileBytes } from './fileBytes.js';
import { readDicomObject, readDicomSeries, type DicomInput, type DicomSeriesOptions } from './dicom/series.js';
import { isSegmentation, readSegAsLabelMap } from './dicom/segRead.js';
import type { Volume } from './volume.js';

export type { DicomHeader, DicomIdentity, DicomInput } from './dicom/series.js';
export { readDicomSeries } from './dicom/series.js';

export interface DicomReadOptions extends DicomSeriesOptions {
  /** For a DICOM SEG file: the image grid to place its frames on (without it the SEG spans its own frames). */
  grid?: Volume;
}

/** Read a folder (searched recursively) holding one DICOM series, or a single DICOM file. */
export async function readDicom(path: string, opts: DicomReadOptions = {}): Promise<Volume> {
  if (!existsSync(path)) throw new MedsamError(`DICOM input ${path} does not exist`, 'check the path');
  return statSync(path).isDirectory() ? readDicomFolder(path, opts) : readDicomFile(path, opts);
}

export async function readDicomFolder(dir: string, opts: DicomReadOptions = {}): Promise<Volume> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new MedsamError(`DICOM folder ${dir} does not exist`, 'check the path');
  const files = listFiles(dir);
  if (files.length === 0) throw new MedsamError(`DICOM folder ${dir} is empty`, 'pass the folder that holds the .dcm slices');
  const inputs: DicomInput[] = files.map((f) => ({ name: f, bytes: readFileBytes(f, 'DICOM file') }));
  return readDicomSeries(inputs, opts, `folder ${dir}`);
}

/** A single file: an enhanced multi-frame object, one classic slice (nz = 1), or a SEG (needs `grid` to sit on an image). */
export async function readDicomFile(path: string, opts: DicomReadOptions = {}): Promise<Volume> {
  const input = { name: path, bytes: readFileBytes(path, 'DICOM file') };
  if (isSegmentation(input.bytes)) return readSegAsLabelMap(input, opts.grid);
  return readDicomObject(input, opts);
}

function listFiles(dir: string, depth = 0): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === 'DICOMDIR') continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (depth < 6) out.push(...listFiles(p, depth + 1));
    } else if (st.size > 0) out.push(p);
  }
  return out;
}
