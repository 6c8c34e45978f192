/**
 * What the app drew for an uploaded scan, and the check that it is a given reading of it: the
 * NIfTI the app fetched for its session's upload, compared on grid and voxels. Shared by the tests
 * that open one DICOM series several ways (zip, folder picker, files, a dropped folder).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { readVolume } from '../../src/io/readVolume.js';
import type { Volume } from '../../src/io/volume.js';
import { sessionOf } from './appDriver.js';

/** The upload behind the page's session, and the NIfTI the app drew (fetched as the app does, kept as dir/NAME.nii.gz). */
export async function drawnVolume(page: Page, url: string, dir: string, name: string): Promise<{ uploadId: string; volume: Volume }> {
  const session = (await (await fetch(`${url}/sessions/${await sessionOf(page)}`)).json()) as { uploadId: string };
  const r = await fetch(`${url}/uploads/${session.uploadId}/volume.nii.gz`);
  assert.equal(r.status, 200);
  const path = join(dir, `${name}.nii.gz`);
  writeFileSync(path, new Uint8Array(await r.arrayBuffer()));
  return { uploadId: session.uploadId, volume: await readVolume(path) };
}

/** Same grid (dims exact; spacing, origin, direction to float32) and the same voxels. */
export function assertSameVolume(got: Volume, want: Volume, what: string): void {
  assert.deepEqual(got.dims, want.dims, `${what}: dims`);
  const close = (a: readonly number[], b: readonly number[], part: string) =>
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-4 * Math.max(1, Math.abs(b[i]!)), `${what}: ${part} ${a} vs ${b}`));
  close(got.spacing, want.spacing, 'spacing');
  close(got.origin, want.origin, 'origin');
  close(got.direction, want.direction, 'direction');
  let diff = 0;
  for (let i = 0; i < want.data.length; i++) if (Number(got.data[i]) !== Number(want.data[i])) diff++;
  assert.equal(diff, 0, `${what}: ${diff} voxels differ from the server's reading`);
}
