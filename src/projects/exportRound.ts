import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { writeFileAtomic } from '../io/atomicWrite.js';
import { buildSeg, dicomSource, type SegmentSpec } from '../io/dicom/segWrite.js';
import type { DicomHeader } from '../io/dicom/series.js';
import { encodeNpz } from '../io/npz.js';
import type { NpzHeader } from '../io/npzCase.js';
import type { Volume } from '../io/volume.js';
import { writeMask } from '../io/writeMask.js';
import { toUint8 } from '../preprocess/intensity.js';
import type { ProjectService } from './projectService.js';
import { authorLabel, type LabelDef, type Project } from './types.js';

/**
 * A round's accepted labels as a training set.
 * - 'medsam2-npz': one `<case>.npz` per case with `imgs` (D,H,W) uint8, `gts` (D,H,W) uint8 and
 *   `spacing` — the arrays MedSAM2's fine-tuning data loader reads (images already windowed to
 *   uint8 as in its RECIST_train_npz set; spacing in the source npz's order, else x,y,z);
 * - 'nifti': nnU-Net-style `imagesTr/<case>_0000.nii.gz` (the same uint8 image) and
 *   `labelsTr/<case>.nii.gz` on the image's exact geometry.
 * - 'dicom-seg': the clinic's format — one `<case>.seg.dcm` DICOM Segmentation per case whose image
 *   is a DICOM series, on that series' grid and referencing its SOP instances, one segment per
 *   label in the map named and coloured as the project's labels (OHIF, 3D Slicer, a PACS read it).
 *   A case whose source is not DICOM (NIfTI, PNG, …) has nothing to reference: it is listed under
 *   `skipped` with why, so one mixed round still exports its DICOM cases; a round with no DICOM
 *   case at all is refused (nothing would be exported).
 * Plus `manifest.json`: project, round, labels, and per case its source, accepted version,
 * author and mask sha256 — enough to trace every training label back to its history.
 */
export type ExportFormat = 'medsam2-npz' | 'nifti' | 'dicom-seg';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['medsam2-npz', 'nifti', 'dicom-seg'];

/**
 * Why a loaded image cannot be the source of a DICOM SEG — not a DICOM series, or one anonymised
 * without the UIDs a SEG references — in words that name no server path; null when it can.
 */
export function segSourceProblem(image: Volume): { why: string; fix: string } | null {
  const h = image.header as DicomHeader | undefined;
  if (image.source.format !== 'dicom' || h?.kind !== 'dicom')
    return {
      why: `its image is ${image.source.format}, not a DICOM series, so a DICOM SEG has no instances to reference`,
      fix: 'export it as nifti or medsam2-npz',
    };
  try {
    dicomSource(image, 'the SEG');
    return null;
  } catch (e) {
    if (!(e instanceof MedsamError)) throw e;
    return {
      why: 'its DICOM series has no SOP instance / series UIDs (anonymised without them), which a DICOM SEG must reference',
      fix: 'give the series UIDs (e.g. `dcmodify -gin`) and add it as a new case, or export it as nifti',
    };
  }
}

/** '#rrggbb' → sRGB 0..255 (undefined when malformed: buildSeg's palette then colours it). */
function rgbOf(colour: string): [number, number, number] | undefined {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  return m ? [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)] : undefined;
}

/** The project's labels as SEG segments: those the map holds (a label the project lacks keeps its value as name). */
export function projectSegments(labels: readonly LabelDef[], map: Uint8Array): SegmentSpec[] {
  const present = new Set<number>();
  for (let i = 0; i < map.length; i++) if (map[i]) present.add(map[i]!);
  const values = present.size ? [...present].sort((a, b) => a - b) : labels.slice(0, 1).map((l) => l.value);
  return values.map((value) => {
    const l = labels.find((x) => x.value === value);
    if (!l) return { label: value, name: `label ${value}` };
    return {
      label: value,
      name: l.name,
      colour: rgbOf(l.colour),
      ...(l.code ? { type: { CodeValue: l.code, CodingSchemeDesignator: 'SCT', CodeMeaning: l.name } } : {}),
    };
  });
}

export async function exportRound(
  svc: ProjectService,
  project: Project,
  round: number,
  format: ExportFormat,
  outDir: string,
): Promise<string[]> {
  if (!EXPORT_FORMATS.includes(format)) throw new MedsamError(`unknown export format '${format}'`, `use ${EXPORT_FORMATS.join(' or ')}`);
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new MedsamError(`${outDir} is not empty`, 'export each round into a new folder (exports are never overwritten)');
  const cases = await svc.repo.listCases(project.id, { round, state: 'accepted' });
  if (cases.length === 0)
    throw new MedsamError(
      `round ${round} of ${project.name} has no accepted case`,
      'review and accept cases first (medsam2 project status shows the round)',
    );
  mkdirSync(outDir, { recursive: true });
  if (format === 'nifti') {
    mkdirSync(join(outDir, 'imagesTr'));
    mkdirSync(join(outDir, 'labelsTr'));
  }
  const written: string[] = [];
  const manifest: Record<string, unknown>[] = [];
  const skipped: Record<string, unknown>[] = [];
  for (const c of cases) {
    const { version, labels } = await svc.mask(project, c.name);
    const { image } = await svc.loadCase(c.source);
    if (image.dims.some((d, i) => d !== c.dims[i]))
      throw new MedsamError(
        `case ${c.name}: ${c.source} is now ${image.dims.join('x')}, was ${c.dims.join('x')} when added`,
        'the image changed on disk; restore it',
      );
    let files: string[];
    if (format === 'dicom-seg') {
      const path = join(outDir, `${c.name}.seg.dcm`);
      const problem = segSourceProblem(image);
      if (problem) {
        skipped.push({ case: c.name, source: c.source, ...problem });
        continue;
      }
      const mask: Volume = { ...image, data: labels, header: undefined };
      writeFileAtomic(
        path,
        buildSeg(
          mask,
          image,
          {
            algorithmName: project.model,
            algorithmVersion: project.modelVersion,
            segments: projectSegments(project.labels, labels),
            seriesDescription: `${project.name} ${c.name} v${version.version}`.slice(0, 64),
          },
          `${c.name}.seg.dcm`,
        ),
      );
      files = [path];
    } else if (format === 'medsam2-npz') {
      const imgs = image.data instanceof Uint8Array ? image.data : toUint8(image);
      const [nx, ny, nz] = image.dims;
      const order = (image.header as NpzHeader | undefined)?.kind === 'npz' ? (image.header as NpzHeader).spacingOrder : 'xyz';
      const s = image.spacing;
      const path = join(outDir, `${c.name}.npz`);
      writeFileAtomic(
        path,
        encodeNpz(
          {
            imgs: { dtype: 'uint8', shape: [nz, ny, nx], data: imgs },
            gts: { dtype: 'uint8', shape: [nz, ny, nx], data: labels },
            spacing: { dtype: 'float64', shape: [3], data: Float64Array.from(order === 'zyx' ? [s[2], s[1], s[0]] : s) },
            direction: { dtype: 'float64', shape: [9], data: Float64Array.from(image.direction) },
            origin: { dtype: 'float64', shape: [3], data: Float64Array.from(image.origin) },
          },
          { compress: true },
        ),
      );
      files = [path];
    } else {
      const imgs = image.data instanceof Uint8Array ? image.data : toUint8(image);
      const grid: Volume = { ...image, header: undefined };
      const ip = join(outDir, 'imagesTr', `${c.name}_0000.nii.gz`);
      const lp = join(outDir, 'labelsTr', `${c.name}.nii.gz`);
      await writeMask(ip, { ...grid, data: imgs }, grid);
      await writeMask(lp, { ...grid, data: labels }, grid);
      files = [ip, lp];
    }
    written.push(...files);
    manifest.push({
      case: c.name,
      source: c.source,
      files: files.map((f) => f.slice(outDir.length + 1)),
      acceptedVersion: version.version,
      author: authorLabel(version.author),
      maskSha256: version.maskSha,
      reviewer: c.reviewedBy,
      dims: c.dims,
      spacing: c.spacing,
    });
  }
  if (format === 'dicom-seg' && manifest.length === 0)
    throw new MedsamError(
      `round ${round} of ${project.name} has no accepted case from a DICOM series (${skipped.map((x) => x.case).join(', ')})`,
      'a DICOM SEG references its source series: export these cases as nifti or medsam2-npz',
    );
  const mp = join(outDir, 'manifest.json');
  writeFileAtomic(
    mp,
    new TextEncoder().encode(
      JSON.stringify(
        {
          project: project.name,
          round,
          format,
          model: `${project.model}@${project.modelVersion}`,
          labels: project.labels,
          exportedAt: new Date().toISOString(),
          cases: manifest,
          ...(format === 'dicom-seg' ? { skipped } : {}),
        },
        null,
        2,
      ) + '\n',
    ),
  );
  return [...written, mp];
}
