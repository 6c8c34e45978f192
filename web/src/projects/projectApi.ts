/**
 * The project endpoints of `medsam2 serve` (issue #12; the contract in the server's
 * /openapi.json) on top of the app's Api, which brings the token and the person-facing errors.
 */
import { Api, type SessionView } from '../api.js';
import type { InteractionEvent } from './interactionLog.js';
import type { PacsSend } from '../../../src/projects/pacsSends.js';

export { isDicomCase, NO_PACS, pacsSendBlocker } from './dicomCase.js';

export interface LabelDefView {
  value: number;
  name: string;
  colour?: string;
  code?: string | null;
}

export interface ProjectSummary {
  name: string;
  labels: LabelDefView[];
  model?: unknown;
  counts: Record<string, number>;
}

export interface ProjectDetail {
  project: { name: string; labels: LabelDefView[]; model?: unknown; guidelines?: string; [k: string]: unknown };
  members: { name: string; role: string }[];
  counts: { byStatus: Record<string, number>; byPerson: Record<string, Record<string, number>> };
  rounds: unknown;
  /** The PACS Send to PACS stores at (the server's --stow-url); null when none is configured. */
  pacs?: string | null;
  myRole?: string | null;
}

export interface CaseView {
  name: string;
  status: string;
  assignee: string | null;
  round: number;
  mode: string;
  latestVersion: number;
  claimExpiresAt: string | null;
  reviewComment: string | null;
  /** The upload's format in a case's own JSON (dicom-zip: the case exports as DICOM SEG). */
  sourceFormat?: string | null;
  [k: string]: unknown;
}

/** The label-map downloads of a version (GET …/versions/{v}/labelmap?format=): file extension each. */
export const LABEL_MAP_FORMATS = { nifti: 'nii.gz', nrrd: 'nrrd', npz: 'npz', 'dicom-seg': 'seg.dcm' } as const;
export type LabelMapFormat = keyof typeof LABEL_MAP_FORMATS;

/** The round exports of POST /projects/{name}/export (a zip of the round's accepted cases), with what each holds. */
export const ROUND_EXPORT_FORMATS: [string, string][] = [
  ['medsam2-npz', 'MedSAM2 npz (imgs + gts per case)'],
  ['nifti', 'NIfTI, nnU-Net layout (imagesTr, labelsTr)'],
  ['dicom-seg', 'DICOM SEG (cases from a DICOM series)'],
];

export interface VersionView {
  version: number;
  author: string;
  authorKind: string;
  createdAt: string;
  voxels: number;
  [k: string]: unknown;
}

/** A label version sent to the PACS as a DICOM SEG (recorded on the case by the server). */
export type PacsSendView = PacsSend;

export interface CaseDetail {
  case: CaseView;
  versions: VersionView[];
  pacs?: string | null;
  pacsSends?: PacsSendView[];
  [k: string]: unknown;
}

export interface DiffView {
  dsc: number;
  volumeChangeMl?: number;
  volumeChangePct?: number | null;
  [k: string]: unknown;
}

export interface JobView {
  id: string;
  status: string;
  progress: number;
  error?: string | null;
  [k: string]: unknown;
}

/** A send-to-pacs job's result: the SEGs the PACS took so far, and the cases not from a DICOM series. */
export interface PacsRoundView {
  round: number;
  pacs: string;
  sent: (PacsSendView & { case: string })[];
  skipped: { case: string; why: string }[];
  /** False while the job may still send (a cancel waits for the SEG on its way); true once it has ended. */
  stopped?: boolean;
}

export class ProjectApi extends Api {
  private p(project: string): string {
    return `/projects/${encodeURIComponent(project)}`;
  }

  private c(project: string, caseName: string): string {
    return `${this.p(project)}/cases/${encodeURIComponent(caseName)}`;
  }

  projects(): Promise<ProjectSummary[]> {
    return this.json('GET', '/projects');
  }

  project(project: string): Promise<ProjectDetail> {
    return this.json('GET', this.p(project));
  }

  cases(project: string, filter: { status?: string; assignee?: string; round?: number } = {}): Promise<CaseView[]> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    return this.json('GET', `${this.p(project)}/cases${qs ? `?${qs}` : ''}`);
  }

  /** Claims the next case for the caller; undefined when the queue is empty (204). */
  async next(project: string): Promise<CaseView | undefined> {
    const res = await this.send('POST', `${this.p(project)}/next`);
    if (res.status === 204) return undefined;
    return (await res.json()) as CaseView;
  }

  claim(project: string, caseName: string): Promise<CaseView> {
    return this.json('POST', `${this.c(project, caseName)}/claim`);
  }

  caseDetail(project: string, caseName: string): Promise<CaseDetail> {
    return this.json('GET', this.c(project, caseName));
  }

  /**
   * The case's image as the server reads it, a .nii.gz whatever was uploaded (a DICOM zip, PNG,
   * JPEG, NIfTI, NRRD, MHA, npz: GET …/volume.nii.gz), so what a page draws is the grid sessions
   * and label versions are on; `fileName` ends in .nii.gz for the viewer.
   */
  async volume(project: string, caseName: string): Promise<{ bytes: Uint8Array; fileName: string }> {
    const res = await this.send('GET', `${this.c(project, caseName)}/volume.nii.gz`);
    const stem = caseName.replace(/[^\w.-]+/g, '_') || 'case';
    return { bytes: new Uint8Array(await res.arrayBuffer()), fileName: `${stem}.nii.gz` };
  }

  async labelMapNpz(project: string, caseName: string, version: number): Promise<Uint8Array> {
    const res = await this.send('GET', `${this.c(project, caseName)}/versions/${version}/labelmap?format=npz`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** A label version as a file: NIfTI/NRRD/npz on the case's grid, or a DICOM SEG (DICOM cases) with the project's labels. */
  async labelMapFile(
    project: string,
    caseName: string,
    version: number,
    format: LabelMapFormat,
  ): Promise<{ blob: Blob; fileName: string }> {
    const res = await this.send('GET', `${this.c(project, caseName)}/versions/${version}/labelmap?format=${format}`);
    const stem = caseName.replace(/[^\w.-]+/g, '_') || 'case';
    return { blob: await res.blob(), fileName: `${stem}-v${version}.${LABEL_MAP_FORMATS[format]}` };
  }

  /** A server session on the case volume (its saves build on `baseVersion`, the latest version). */
  async caseSession(project: string, caseName: string): Promise<{ session: SessionView; baseVersion?: number }> {
    const r = await this.json<{ sessionId: string; baseVersion?: number }>('POST', `${this.c(project, caseName)}/session`);
    return { session: await this.session(r.sessionId), ...(typeof r.baseVersion === 'number' ? { baseVersion: r.baseVersion } : {}) };
  }

  saveVersion(project: string, caseName: string, baseVersion: number, sessionId: string): Promise<VersionView> {
    return this.json('POST', `${this.c(project, caseName)}/versions`, { baseVersion, sessionId });
  }

  async logInteractions(project: string, caseName: string, events: InteractionEvent[]): Promise<void> {
    await this.send('POST', `${this.c(project, caseName)}/interactions`, JSON.stringify({ events }), 'application/json');
  }

  submit(project: string, caseName: string): Promise<CaseView> {
    return this.json('POST', `${this.c(project, caseName)}/submit`, {});
  }

  review(project: string, caseName: string, verdict: 'accept' | 'return', comment?: string): Promise<CaseView> {
    return this.json('POST', `${this.c(project, caseName)}/review`, { verdict, ...(comment ? { comment } : {}) });
  }

  diff(project: string, caseName: string, a: number, b: number): Promise<DiffView> {
    return this.json('GET', `${this.c(project, caseName)}/diff?a=${a}&b=${b}`);
  }

  preAnnotate(project: string, source: string): Promise<{ jobId: string }> {
    return this.json('POST', `${this.p(project)}/pre-annotate`, { source });
  }

  /** Starts the export of a round's accepted cases as a server job; its zip is at jobResult(jobId) once done. */
  exportRound(project: string, round: number, format: string): Promise<{ jobId: string }> {
    return this.json('POST', `${this.p(project)}/export`, { round, format });
  }

  async jobResult(id: string): Promise<{ blob: Blob; fileName: string }> {
    const res = await this.send('GET', `/jobs/${encodeURIComponent(id)}/result`);
    const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1];
    return { blob: await res.blob(), fileName: name ?? `export-${id.slice(0, 8)}.zip` };
  }

  /** Stores a version's DICOM SEG at the server's PACS (STOW-RS); the send as the case records it. */
  sendToPacs(project: string, caseName: string, version: number): Promise<PacsSendView> {
    return this.json('POST', `${this.c(project, caseName)}/versions/${version}/send-to-pacs`);
  }

  /**
   * Starts the send of every accepted DICOM case of a round to the PACS (its accepted version), a
   * server job: its result (PacsRoundView) lists the sends so far and the skipped cases.
   */
  sendRoundToPacs(project: string, round: number): Promise<{ jobId: string }> {
    return this.json('POST', `${this.p(project)}/send-to-pacs`, { round });
  }

  /** Cancels a queued or running job (DELETE /jobs/{id}); the job as it now stands. */
  cancelJob(id: string): Promise<JobView> {
    return this.json('DELETE', `/jobs/${encodeURIComponent(id)}`);
  }

  job(id: string): Promise<JobView> {
    return this.json('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * The jobs this user may see (GET /jobs): segmentation jobs, and project jobs with kind, project
   * and projectId; oldest first, or the newest `limit` newest first. The filters are the server's:
   * one project (name or id), these kinds, these statuses.
   */
  jobs(filter: { project?: string; kind?: string[]; status?: string[]; limit?: number } = {}): Promise<JobView[]> {
    const q = new URLSearchParams();
    if (filter.project !== undefined) q.set('project', filter.project);
    if (filter.kind?.length) q.set('kind', filter.kind.join(','));
    if (filter.status?.length) q.set('status', filter.status.join(','));
    if (filter.limit !== undefined) q.set('limit', String(filter.limit));
    const query = q.toString();
    return this.json('GET', `/jobs${query ? `?${query}` : ''}`);
  }

  async reportHtml(project: string): Promise<Blob> {
    const res = await this.send('GET', `${this.p(project)}/report.html`);
    return res.blob();
  }
}
