import type { Volume } from '../../io/volume.js';
import { segSourceProblem } from '../../projects/exportRound.js';
import { type PacsSend, pacsSends } from '../../projects/pacsSends.js';
import type { ProjectService } from '../../projects/projectService.js';
import type { CaseRow, Project } from '../../projects/types.js';
import { HttpError } from '../httpError.js';

/**
 * Sending a round to the PACS (POST /projects/{name}/send-to-pacs), a project job (projectJobs.ts):
 * one SEG per accepted case from a DICOM series, case after case, each send recorded on its case
 * (with the job's id) the moment the PACS took it, so a cancel or a failure part way leaves the cases
 * sent before it sent and recorded (and listed in the job's result). A round of many cases no longer
 * holds a request open.
 *
 * A job resumed after a restart skips the cases whose sends carry its id and lists them from those
 * records, so its result names every case it sent, before and after the restart, each sent once.
 * The records, not the job's stored result, decide: the result is written after the record, so a
 * crash between the two loses nothing. A crash between the PACS taking a SEG and its record leaves
 * that case unrecorded: the resumed job sends it again, under the same UIDs (roundSegUids.ts), and
 * the PACS keeps the one instance, so there too the case holds one SEG from the job.
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
  /** True once the job has ended (done, failed, or cancelled and stopped): nothing more will be sent or listed. */
  stopped: boolean;
}

export interface PacsRoundDeps {
  svc: ProjectService;
  /** The PACS as shown (no credentials). */
  pacsShown: string;
  caseVolume: (c: CaseRow) => Promise<{ volume: Volume }>;
  /** STOWs one version's SEG and records the send with the job's id (projectRoutes.ts sendVersion); throws a 502 when refused. */
  sendVersion: (c: CaseRow, version: number, labels: Uint8Array, volume: Volume, context: string) => Promise<PacsSend>;
}

/** The round's sends by job `jobId`; `step` runs before each case (cancel check) and `progress` after each. */
export async function sendRoundToPacs(
  deps: PacsRoundDeps,
  jobId: string,
  project: Project,
  req: PacsRoundRequest,
  hooks: { step: () => void; progress: (partial: PacsRoundResult, done: number, total: number) => Promise<void> },
): Promise<PacsRoundResult> {
  const accepted = await deps.svc.repo.listCases(project.id, { round: req.round, state: 'accepted' });
  if (accepted.length === 0)
    throw new HttpError(409, `round ${req.round} of ${project.name} has no accepted case`, 'review and accept cases first');
  const out: PacsRoundResult = { round: req.round, pacs: deps.pacsShown, sent: [], skipped: [], stopped: false };
  const listed = (c: CaseRow, s: PacsSend) => {
    const { jobId: _, ...send } = s;
    out.sent.push({ case: c.name, ...send });
  };
  // Written before the first case: from here on a cancelled job's result says whether it has stopped (stopped: false until then).
  await hooks.progress(out, 0, accepted.length);
  for (const [i, c] of accepted.entries()) {
    hooks.step();
    // This job sent the case before a restart (its record carries the job's id): listed, not sent again.
    const before = (await pacsSends(deps.svc.repo, c.id)).find((s) => s.jobId === jobId);
    if (before) listed(c, before);
    else {
      // Each accepted case's accepted (head) version; cases that are not DICOM series are skipped with why, as in a dicom-seg export.
      const { labels, version } = await deps.svc.mask(project, c.name);
      const { volume } = await deps.caseVolume(c);
      const problem = segSourceProblem(volume);
      if (problem) out.skipped.push({ case: c.name, why: problem.why });
      else {
        const n = out.sent.length;
        const after = n ? ` (${n} case${n === 1 ? ' was' : 's were'} sent before it)` : '';
        listed(c, await deps.sendVersion(c, version.version, labels, volume, after));
      }
    }
    await hooks.progress(out, i + 1, accepted.length);
  }
  if (out.sent.length === 0)
    throw new HttpError(
      409,
      `round ${req.round} of ${project.name} has no accepted case from a DICOM series (${out.skipped.map((x) => x.case).join(', ')})`,
      'a DICOM SEG references its source series: only cases added from a DICOM series can go to the PACS',
    );
  return { ...out, stopped: true };
}
