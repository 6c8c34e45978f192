import { randomUUID } from 'node:crypto';

/**
 * The fields every new job row starts with, for both job tables (segmentation jobs in jobRunner.ts,
 * project jobs in projects/projectJobs.ts): a fresh id, queued, no progress, no result yet.
 */
export function queuedJob<R>(owner: string, request: R) {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    owner,
    request,
    status: 'queued' as const,
    progress: 0,
    error: null,
    resultSha: null,
    result: null,
    createdAt: now,
    updatedAt: now,
  };
}
