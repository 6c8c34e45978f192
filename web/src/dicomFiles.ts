/**
 * A DICOM series picked as a folder, as several files or as a zip, made into the one upload the
 * server reads (a `dicom-zip`): the files are read in the browser with the core's Part-10 parser
 * (src/io/dicomLib.ts, the server's own), grouped by SeriesInstanceUID the way the server groups
 * them (no UID = one series), non-image objects (SEG, RTSTRUCT, SR, …) and non-DICOM files left
 * out, and the chosen series zipped with fflate. Sizes are checked before anything is read whole,
 * so a folder too big for one upload is refused with what to do instead of filling the tab's memory.
 *
 * A folder of thousands of files goes through `readSeries` and `packSeries`: they report
 * "reading headers n / N" and "packing n / N", hand the main thread back every few milliseconds
 * (the page stays responsive; before, every header was parsed and the series zipped in one go with
 * nothing shown) and stop
 * at the next file once the person cancels.
 */
import { unzipSync, Zip, ZipPassThrough, zipSync } from 'fflate';
import { TAG, isImage, parseDicomBytes } from '../../src/io/dicomLib.js';
import { UserError } from './userError.js';

/** What one upload may hold (the server's default --max-upload-bytes; it re-checks with its own). */
export const MAX_SERIES_BYTES = 1024 ** 3;
/** Files looked at in one folder (the server's default --max-slices is 4096 per series). */
export const MAX_FILES = 20_000;

/** Bytes of one file, named as the person picked it (a folder's relative path when there is one). */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

export interface DicomSeriesGroup {
  uid: string;
  description: string;
  modality: string;
  seriesNumber: string;
  rows: number;
  cols: number;
  files: NamedBytes[];
  bytes: number;
}

/** Files that are certainly not DICOM (pictures, documents, the junk of archivers), skipped unread. */
const NOT_DICOM =
  /(^|\/)(__MACOSX|\.DS_Store|Thumbs\.db|desktop\.ini)|\.(txt|xml|json|html?|pdf|jpe?g|png|gif|bmp|nii|gz|nrrd|mha|mhd|npz|zip|csv|md)$/i;

/** The path a file was picked under (a folder's relative path), else its name. */
export function pickedName(f: File): string {
  return (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
}

function bytesText(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GB` : `${(n / 1024 ** 2).toFixed(0)} MB`;
}

/** Reads the files that may be DICOM (size-checked first). */
export async function readCandidates(files: File[]): Promise<NamedBytes[]> {
  return Promise.all((await candidates(files)).map(async (f) => ({ name: pickedName(f), bytes: new Uint8Array(await f.arrayBuffer()) })));
}

/** The files that may be DICOM, refused when too many or too large for one upload (nothing read yet). */
async function candidates(files: File[], pause?: () => Promise<void>): Promise<File[]> {
  // With `pause`, the thread is handed back between files: checking 2,000 picked files' names and
  // sizes in one go held Chromium's page 130-200 ms in one task (16 ms now, measured in
  // test/web/dicomFolderProgress.test.ts).
  const wanted: File[] = [];
  for (const f of files) {
    await pause?.();
    if (!NOT_DICOM.test(pickedName(f)) && f.size >= 132) wanted.push(f);
  }
  if (wanted.length > MAX_FILES)
    throw new UserError(
      `the selection holds ${wanted.length} files, more than the ${MAX_FILES} this app reads at once`,
      'open the folder of one series (a sub-folder of the study)',
    );
  const total = wanted.reduce((s, f) => s + f.size, 0);
  if (total > MAX_SERIES_BYTES)
    throw new UserError(
      `the selection holds ${bytesText(total)} of files, more than one upload may (${bytesText(MAX_SERIES_BYTES)})`,
      'open the folder of one series (a sub-folder of the study), or segment it with `medsam2 segment FOLDER --series UID`',
    );
  return wanted;
}

/** The members of a zip (declared sizes checked before inflating). */
export function unzipMembers(zip: Uint8Array, zipName: string): NamedBytes[] {
  let declared = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter: (f) => {
        if (f.name.endsWith('/') || NOT_DICOM.test(f.name)) return false;
        declared += f.originalSize;
        if (declared > MAX_SERIES_BYTES)
          throw new UserError(
            `"${zipName}" unpacks to more than ${bytesText(MAX_SERIES_BYTES)}, more than one upload may`,
            'zip one series at a time, or segment it with `medsam2 segment`',
          );
        return true;
      },
    });
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`"${zipName}" is not a readable zip archive (${e instanceof Error ? e.message : String(e)})`, 're-create the zip');
  }
  return Object.entries(files).map(([name, bytes]) => ({ name, bytes }));
}

/** The image series among `files`, largest first; files that are not DICOM images are left out. */
export function groupSeries(files: NamedBytes[]): DicomSeriesGroup[] {
  const groups = new Map<string, DicomSeriesGroup>();
  for (const f of files) addToSeries(groups, f);
  return bySize(groups);
}

function bySize(groups: Map<string, DicomSeriesGroup>): DicomSeriesGroup[] {
  return [...groups.values()].sort((a, b) => b.files.length - a.files.length);
}

/** Puts `f` into its series by its header (a file that is not a DICOM image is left out). */
function addToSeries(groups: Map<string, DicomSeriesGroup>, f: NamedBytes): void {
  let ds;
  try {
    ds = parseDicomBytes(f.bytes, f.name, true);
  } catch {
    return; // corrupt: the server would name it; here it is simply not part of a series
  }
  if (!ds || !isImage(ds)) return;
  const uid = ds.string(TAG.seriesUid)?.trim() ?? '';
  let g = groups.get(uid);
  if (!g) {
    g = {
      uid,
      description: ds.string(TAG.seriesDescription)?.trim() ?? '',
      modality: ds.string(TAG.modality)?.trim() ?? '?',
      seriesNumber: ds.string('x00200011')?.trim() ?? '',
      rows: ds.uint16(TAG.rows) ?? 0,
      cols: ds.uint16(TAG.columns) ?? 0,
      files: [],
      bytes: 0,
    };
    groups.set(uid, g);
  }
  g.files.push(f);
  g.bytes += f.bytes.length;
}

/** Progress and cancel of a long read or pack: `onProgress("reading headers", 120, 2000)`. */
export interface Work {
  onProgress?(what: 'reading headers' | 'packing', done: number, total: number): void;
  /** Aborted: the work stops at the next file with the signal's AbortError. */
  signal?: AbortSignal;
}

/** Main-thread time one slice of work may take before the page gets the thread back. */
const SLICE_MS = 12;
/** Files read at once (File.arrayBuffer is I/O: a few in flight keep the disk busy). */
const READS_IN_FLIGHT = 8;

/** Gives the thread back (input, rendering, the Cancel button's click) once `SLICE_MS` is used. */
function yielder(signal?: AbortSignal): () => Promise<void> {
  let start = performance.now();
  return async () => {
    signal?.throwIfAborted();
    if (performance.now() - start < SLICE_MS) return;
    await new Promise<void>((r) => setTimeout(r, 0));
    signal?.throwIfAborted();
    start = performance.now();
  };
}

/**
 * `readCandidates` + `groupSeries` for a folder: each file read and its header parsed, with
 * "reading headers n / N", the thread handed back between slices of work, and cancel.
 */
export async function readSeries(files: File[], work: Work = {}): Promise<{ groups: DicomSeriesGroup[]; looked: number }> {
  const pause = yielder(work.signal);
  const wanted = await candidates(files, pause);
  const groups = new Map<string, DicomSeriesGroup>();
  /** Files finish reading out of order: each series keeps the order they were picked in. */
  const order = new Map<NamedBytes, number>();
  let next = 0,
    done = 0;
  const reader = async () => {
    while (next < wanted.length) {
      const i = next++;
      const f = wanted[i]!;
      const named = { name: pickedName(f), bytes: new Uint8Array(await f.arrayBuffer()) };
      await pause();
      order.set(named, i);
      addToSeries(groups, named);
      work.onProgress?.('reading headers', ++done, wanted.length);
    }
  };
  work.onProgress?.('reading headers', 0, wanted.length);
  await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, wanted.length) }, reader));
  for (const g of groups.values()) g.files.sort((a, b) => order.get(a)! - order.get(b)!);
  return { groups: bySize(groups), looked: wanted.length };
}

/** One line naming a series, as the picker and messages show it. */
export function describeSeries(g: DicomSeriesGroup): string {
  const what = [g.seriesNumber && `#${g.seriesNumber}`, g.description && `"${g.description}"`].filter(Boolean).join(' ');
  return `${what || g.uid || 'series without UID'} — ${g.modality}, ${g.files.length} image${g.files.length === 1 ? '' : 's'}, ${g.cols}×${g.rows}`;
}

/** The error for a selection with no DICOM image in it. */
export function noDicom(what: string, looked: number): UserError {
  return new UserError(
    `${what} holds no DICOM image (${looked} file${looked === 1 ? '' : 's'} looked at: none is a DICOM Part-10 image)`,
    'pick the folder of one DICOM series (files with "DICM" at byte 128, e.g. *.dcm), or open a NIfTI, NRRD, MHA, npz, PNG or JPEG',
  );
}

/**
 * One series as a zip the server reads as `dicom-zip`. Stored, not deflated: no seconds of the tab's
 * main thread spent; a compressed transfer syntax (the shared series is JPEG 2000) gains nothing,
 * an uncompressed one would upload about half the bytes, which pays only over a slow link.
 */
export function zipSeries(g: DicomSeriesGroup): Uint8Array<ArrayBuffer> {
  const members: Record<string, [Uint8Array, { level: 0 }]> = {};
  g.files.forEach((f, i) => {
    members[`${String(i).padStart(5, '0')}.dcm`] = [f.bytes, { level: 0 }];
  });
  return zipSync(members) as Uint8Array<ArrayBuffer>;
}

/**
 * `zipSeries` as a Blob, member by member (fflate's streaming Zip, stored), with "packing n / N",
 * the thread handed back between slices of work (each member's CRC is main-thread work), and cancel.
 */
export async function packSeries(g: DicomSeriesGroup, work: Work = {}): Promise<Blob> {
  // The zip grows as a Blob made of the last Blob and the new chunks: each step copies only its
  // new bytes (one Blob of all chunks at the end copied 300 MB in one 250 ms task).
  let packed = new Blob([]);
  let chunks: Uint8Array<ArrayBuffer>[] = [];
  const flush = () => {
    if (chunks.length) packed = new Blob([packed, ...chunks]);
    chunks = [];
  };
  let failed: Error | undefined;
  const zip = new Zip((err, chunk) => {
    if (err) failed = err;
    else chunks.push(chunk as Uint8Array<ArrayBuffer>);
  });
  const pause = yielder(work.signal);
  const total = g.files.length;
  work.onProgress?.('packing', 0, total);
  for (let i = 0; i < total; i++) {
    if (chunks.length >= 64) flush();
    await pause();
    const member = new ZipPassThrough(`${String(i).padStart(5, '0')}.dcm`);
    zip.add(member);
    member.push(g.files[i]!.bytes, true);
    if (failed) throw failed;
    work.onProgress?.('packing', i + 1, total);
  }
  zip.end();
  if (failed) throw failed;
  flush();
  return packed;
}
