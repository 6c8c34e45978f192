import { createHash } from 'node:crypto';

/**
 * The Series and SOP Instance UIDs of the SEG a send-to-pacs job sends for one case version: named
 * by the job, the case and the version (`2.25.` + 128 bits of a SHA-256 of those, PS3.5 B.2 as for
 * random UIDs), not random. A job resumed after a crash that falls between the PACS taking a SEG
 * and the send being recorded on its case sends that case again under the same UIDs, and a PACS
 * keeps one instance per SOP Instance UID (Orthanc ignores the copy; others overwrite it), so the
 * case never gets a second SEG from one job. Hand-written: a name-based UID is a hash and a
 * decimal conversion, no library needed.
 */
export function roundSegUids(jobId: string, caseId: string, version: number): { seriesInstanceUid: string; sopInstanceUid: string } {
  const uid = (what: string): string => {
    const h = createHash('sha256').update(`medsam2 send-to-pacs\0${jobId}\0${caseId}\0${version}\0${what}`).digest();
    let n = 0n;
    for (const x of h.subarray(0, 16)) n = (n << 8n) | BigInt(x);
    return `2.25.${n.toString()}`;
  };
  return { seriesInstanceUid: uid('series'), sopInstanceUid: uid('instance') };
}
