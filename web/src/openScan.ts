/**
 * What the app does with what a person opened (one file, several, a folder, a drop): the open
 * paths and which one each input takes.
 *
 * - NIfTI, NRRD, MHA, npz: NiiVue draws the local file (npz through npzVolume.ts), as before.
 * - A DICOM series (a folder, several .dcm files, a zip, one .dcm), PNG, JPEG: uploaded, and drawn
 *   from the server's own reading of it (GET /uploads/{id}/volume.nii.gz, see
 *   src/server/uploads/displayVolume.ts), so the voxels on screen are the ones prompts and label
 *   maps count: one reader (the server's), no second DICOM reader in the browser that could sort
 *   slices or orient differently.
 * - Videos, zips of PNG/JPEG frames and folders of them: video mode.
 *
 * DICOM files are grouped into series here (dicomFiles.ts) so that a folder holding several lets
 * the person pick one (seriesPicker.ts) before anything is uploaded; `work` reports the reading
 * and packing of a large folder and cancels them.
 */
import { isFrameZip, JUNK_NAME } from '../../src/io/frameZip.js';
import {
  groupSeries,
  noDicom,
  packSeries,
  pickedName,
  readCandidates,
  readSeries,
  unzipMembers,
  type DicomSeriesGroup,
  type Work,
} from './dicomFiles.js';
import { UserError } from './messages.js';
import { pickSeries } from './seriesPicker.js';

/** NiiVue reads these itself (npz through npzVolume.ts). */
export const LOCAL_SCAN = /\.(nii|nii\.gz|nrrd|nhdr|mha|npz)$/i;
const VIDEO = /\.(mp4|m4v|mov|avi|mkv|webm)$/i;
const PICTURE = /\.(png|jpe?g)$/i;

export type OpenPlan =
  /** Drawn from the local file by NiiVue. */
  | { kind: 'local'; file: File }
  /** A video or a zip of frames: video mode. */
  | { kind: 'video'; file: File }
  /** A folder / several PNG or JPEG pictures: video frames. */
  | { kind: 'frames'; files: File[] }
  /** Uploaded as `name`, drawn from the server's reading; `label` is what the side panel and exports call it. */
  | { kind: 'server'; blob: Blob; name: string; label: string };

async function oneSeries(groups: DicomSeriesGroup[], where: string, looked: number): Promise<DicomSeriesGroup | undefined> {
  if (groups.length === 0) throw noDicom(where, looked);
  if (groups.length === 1) return groups[0];
  return pickSeries(groups, where);
}

/** The plan for what was picked or dropped; undefined when the person cancelled a series choice. */
export async function planOpen(files: File[], opts: { folder?: boolean; work?: Work } = {}): Promise<OpenPlan | undefined> {
  const work = opts.work ?? {};
  const real = files.filter((f) => !JUNK_NAME.test(pickedName(f)) && !f.name.startsWith('.'));
  if (real.length === 0)
    throw new UserError(opts.folder ? 'the folder is empty' : 'no file was picked', 'pick a scan file or a DICOM folder');
  if (real.length === 1 && !opts.folder) return planFile(real[0]!, work);
  if (real.every((f) => PICTURE.test(f.name))) return { kind: 'frames', files: real };
  const top = pickedName(real[0]!).split('/')[0]!;
  const folderName = opts.folder || pickedName(real[0]!).includes('/') ? top : 'dicom-series';
  const where = opts.folder ? `the folder "${folderName}"` : `the ${real.length} files picked`;
  const { groups } = await readSeries(real, work);
  const g = await oneSeries(groups, where, real.length);
  if (!g) return undefined;
  return { kind: 'server', blob: await packSeries(g, work), name: `${folderName}.zip`, label: folderName };
}

async function planFile(file: File, work: Work): Promise<OpenPlan | undefined> {
  if (VIDEO.test(file.name)) return { kind: 'video', file };
  if (LOCAL_SCAN.test(file.name)) return { kind: 'local', file };
  if (PICTURE.test(file.name)) return { kind: 'server', blob: file, name: file.name, label: file.name };
  if (/\.zip$/i.test(file.name)) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (isFrameZip(bytes)) return { kind: 'video', file };
    const members = unzipMembers(bytes, file.name);
    const g = await oneSeries(groupSeries(members), `"${file.name}"`, members.length);
    if (!g) return undefined;
    return { kind: 'server', blob: await packSeries(g, work), name: file.name, label: file.name.replace(/\.zip$/i, '') };
  }
  // One DICOM file (a .dcm, or a PACS file without extension): a single-file series, e.g. Enhanced multi-frame.
  const g = groupSeries(await readCandidates([file]))[0];
  if (!g)
    throw new UserError(
      `cannot open "${file.name}": it is not a scan this app reads`,
      'open a NIfTI (.nii, .nii.gz), NRRD, MHA, MedSAM2 .npz, a DICOM series (folder, .dcm files or .zip), a PNG, a JPEG or a video',
    );
  const stem = file.name.replace(/\.(dcm|dicom)$/i, '');
  return { kind: 'server', blob: await packSeries(g, work), name: `${stem}.zip`, label: stem };
}
