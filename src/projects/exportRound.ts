import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { writeFileAtomic } from '../io/atomicWrite.js';
import { encodeNpz } from '../io/npz.js';
import type { NpzHeader } from '../io/npzCase.js';
import type { Volume } from '../io/volume.js';
import { writeMask } from '../io/writeMask.js';
import { toUint8 } from '../preprocess/intensity.js';
import type { ProjectService } from './projectService.js';
import { authorLabel, type Project } from './types.js';

/**
 * A round's accepted labels as a training set.
 * - 'medsam2-npz': one `<case>.npz` per case with `imgs` (D,H,W) uint8, `gts` (D,H,W) uint8 and
 *   `spacing` — the arrays MedSAM2's fine-tuning data loader reads (images already windowed to
 *   uint8 as in its RECIST_train_npz set; spacing in the source npz's order, else x,y,z);
 * - 'nifti': nnU-Net-style `imagesTr/<case>_0000.nii.gz` (the same uint8 image) and
 *   `labelsTr/<case>.nii.gz` on the image's exact geometry.
 * Plus `manifest.json`: project, round, labels, and per case its source, accepted version,
 * author and mask sha256 — enough to trace every training label back to its history.
 */
export type ExportFormat = 'medsam2-npz' | 'nifti';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['medsam2-npz', 'nifti'];

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
  for (const c of cases) {
    const { version, labels } = await svc.mask(project, c.name);
    const { image } = await svc.loadCase(c.source);
    if (image.dims.some((d, i) => d !== c.dims[i]))
      throw new MedsamError(
        `case ${c.name}: ${c.source} is now ${image.dims.join('x')}, was ${c.dims.join('x')} when added`,
        'the image changed on disk; restore it',
      );
    const imgs = image.data instanceof Uint8Array ? image.data : toUint8(image);
    const [nx, ny, nz] = image.dims;
    let files: string[];
    if (format === 'medsam2-npz') {
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
        },
        null,
        2,
      ) + '\n',
    ),
  );
  return [...written, mp];
}
