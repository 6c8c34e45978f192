import type { ProjectRepository } from './projectRepository.js';

/**
 * The record of a case's label versions sent to a PACS as DICOM SEGs: who sent which version
 * when, and the UIDs the PACS holds it under, so a reader of the PACS can be traced back to the
 * project's history. Kept as 'pacs-send' rows of the case's event log (no schema change): the
 * comment holds the details as JSON.
 */
export const PACS_SEND_EVENT = 'pacs-send';

export interface PacsSend {
  version: number;
  sentBy: string;
  sentAt: string;
  /** The PACS as the server names it (its DICOMweb root, no credentials). */
  pacs: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** The send-to-pacs job that sent it (a round send; absent for a version sent by itself). */
  jobId?: string;
}

export async function recordPacsSend(repo: ProjectRepository, caseId: string, send: Omit<PacsSend, 'sentAt'>): Promise<PacsSend> {
  const { sentBy, ...rest } = send;
  await repo.addEvent(caseId, PACS_SEND_EVENT, sentBy, JSON.stringify(rest));
  const events = await repo.events(caseId);
  return { ...send, sentAt: events[events.length - 1]!.at };
}

/** The case's sends, oldest first. */
export async function pacsSends(repo: ProjectRepository, caseId: string): Promise<PacsSend[]> {
  const out: PacsSend[] = [];
  for (const e of await repo.events(caseId)) {
    if (e.event !== PACS_SEND_EVENT || !e.comment) continue;
    const d = JSON.parse(e.comment) as Omit<PacsSend, 'sentBy' | 'sentAt'>;
    out.push({ ...d, sentBy: e.user, sentAt: e.at });
  }
  return out;
}
