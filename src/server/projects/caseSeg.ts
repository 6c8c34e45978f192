import { buildSeg } from '../../io/dicom/segWrite.js';
import type { DicomHeader } from '../../io/dicom/series.js';
import { newUid } from '../../io/dicom/uid.js';
import type { Volume } from '../../io/volume.js';
import { projectSegments, segSourceProblem } from '../../projects/exportRound.js';
import type { CaseRow, Project } from '../../projects/types.js';
import { labelMapVolume } from '../../session/labelMap.js';
import { HttpError } from '../httpError.js';

/**
 * One label version of a project case as a DICOM SEG on its source series (segments = the
 * project's labels): what the version download (?format=dicom-seg) and Send to PACS both give,
 * with the UIDs it was written under so a send can be recorded. A case that is not a DICOM series
 * (or one anonymised without UIDs) is a 409 saying why.
 */
export interface CaseSeg {
  bytes: Uint8Array;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/** `uids`: the SEG's Series and SOP Instance UIDs when they are named (a round job's, roundSegUids.ts); else new random ones. */
export function caseSeg(
  project: Project,
  c: CaseRow,
  version: number,
  labels: Uint8Array,
  volume: Volume,
  uids?: { seriesInstanceUid: string; sopInstanceUid: string },
): CaseSeg {
  const problem = segSourceProblem(volume);
  if (problem)
    throw new HttpError(409, `case ${c.name} cannot be a DICOM SEG: ${problem.why}`, problem.fix.replace('medsam2-npz', 'nrrd or npz'));
  const seriesInstanceUid = uids?.seriesInstanceUid ?? newUid();
  const sopInstanceUid = uids?.sopInstanceUid ?? newUid();
  const bytes = buildSeg(labelMapVolume(labels, volume), volume, {
    algorithmName: project.model,
    algorithmVersion: project.modelVersion,
    segments: projectSegments(project.labels, labels),
    seriesDescription: `${project.name} ${c.name} v${version}`.slice(0, 64),
    seriesInstanceUid,
    sopInstanceUid,
  });
  // buildSeg refused a series without a study UID, so there is one here.
  const h = volume.header as DicomHeader;
  const studyInstanceUid = (h.studyInstanceUid ?? h.identity.StudyInstanceUID)!;
  return { bytes, studyInstanceUid, seriesInstanceUid, sopInstanceUid };
}
