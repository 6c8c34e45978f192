import type { Volume } from '../../io/volume.js';
import { segSourceProblem } from '../../projects/exportRound.js';
import type { PacsSend } from '../../projects/pacsSends.js';
import type { ProjectService } from '../../projects/projectService.js';
import type { CaseRow, Project } from '../../projects/types.js';
import { HttpError } from '../httpError.js';

/**
 * Sending a round to the PACS (POST /projects/{name}/send-to-pacs), a project job (projectJobs.ts):
 * one SEG per accepted case from a DICOM series, case after case, each send recorded on its case the
 * moment the PACS took it, so a cancel or a failure part way leaves the cases sent before it sent and
 * recorded (and listed in the job's result). A round of many cases no longer holds a request open.
 */

/** What the job row holds as its request: the round and who asked (recorded as sentBy). */
export interface PacsRoundRequest {
  round: number;
  sentBy: string;
}

/** The job's result, written after every case (so a failed or cancelled job shows what went). */
export interface PacsRoundResult {
  round: number;
  pacs: string;
  sent: (PacsSend & { case: string })[];
  skipped: { case: string; why: string }[];
}

export interface PacsRoundDeps {
  svc: ProjectService;
  /** The PACS as shown (no credentials). */
  pacsShown: string;
  caseVolume: (c: CaseRow) => Promise<{ volume: Volume }>;
  /** STOWs one version's SEG and records the send (projectRoutes.ts sendVersion); throws a 502 when refused. */
  sendVersion: (c: CaseRow, version: number, labels: Uint8Array, volume: Volume, context: string) => Promise<PacsSend>;
}

/** The round's sends; `step` runs before each case (cancel check) and `progress` after each. */
export async function sendRoundToPacs(
  deps: PacsRoundDeps,
  project: Project,
  req: PacsRoundRequest,
  hooks: { step: () => void; progress: (partial: PacsRoundResult, done: number, total: number) => Promise<void> },
): Promise<PacsRoundResult> {
  const accepted = await deps.svc.repo.listCases(project.id, { round: req.round, state: 'accepted' });
  if (accepted.length === 0)
    throw new HttpError(409, `round ${req.round} of ${project.name} has no accepted case`, 'review and accept cases first');
  const out: PacsRoundResult = { round: req.round, pacs: deps.pacsShown, sent: [], skipped: [] };
  for (const [i, c] of accepted.entries()) {
    hooks.step();
    // Each accepted case's accepted (head) version; cases that are not DICOM series are skipped with why, as in a dicom-seg export.
    const { labels, version } = await deps.svc.mask(project, c.name);
    const { volume } = await deps.caseVolume(c);
    const problem = segSourceProblem(volume);
    if (problem) out.skipped.push({ case: c.name, why: problem.why });
    else {
      const n = out.sent.length;
      const after = n ? ` (${n} case${n === 1 ? ' was' : 's were'} sent before it)` : '';
      out.sent.push({ case: c.name, ...(await deps.sendVersion(c, version.version, labels, volume, after)) });
    }
    await hooks.progress(out, i + 1, accepted.length);
  }
  if (out.sent.length === 0)
    throw new HttpError(
      409,
      `round ${req.round} of ${project.name} has no accepted case from a DICOM series (${out.skipped.map((x) => x.case).join(', ')})`,
      'a DICOM SEG references its source series: only cases added from a DICOM series can go to the PACS',
    );
  return out;
}
