/** Small synthetic evaluation cases for the `eval` tests (no shared data needed). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { encodeNrrd } from '../../src/io/nrrdWrite.js';
import type { Volume } from '../../src/io/volume.js';
import { ObjectSegmenter } from '../../src/pipelines/objectSegmenter.js';

/**
 * Writes `<name>.nrrd` and its reference `<name>-label.nrrd` into `dir`: a 16x16x`depth` image
 * whose reference holds `labels` (one 4x4 square each, on every slice, bright in the image).
 * `labelDepth` gives the reference another slice count (a reference off the image's grid).
 */
export function writeNrrdCase(dir: string, name: string, labels: number[], opts: { depth?: number; labelDepth?: number } = {}): void {
  const vol = (data: Uint8Array, depth: number): Volume => ({
    data,
    dims: [16, 16, depth],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    source: { format: 'nrrd', path: '' },
  });
  const squares = (depth: number, value: (l: number) => number) => {
    const out = new Uint8Array(16 * 16 * depth);
    labels.forEach((l, i) => {
      for (let z = 0; z < depth; z++)
        for (let y = 4 * i; y < 4 * i + 4; y++) for (let x = 2; x < 6; x++) out[z * 256 + y * 16 + x] = value(l);
    });
    return out;
  };
  const depth = opts.depth ?? 4;
  const labelDepth = opts.labelDepth ?? depth;
  writeFileSync(
    join(dir, `${name}.nrrd`),
    encodeNrrd(
      vol(
        squares(depth, () => 200),
        depth,
      ),
      `${name}.nrrd`,
    ),
  );
  writeFileSync(
    join(dir, `${name}-label.nrrd`),
    encodeNrrd(
      vol(
        squares(labelDepth, (l) => l),
        labelDepth,
      ),
      `${name}-label.nrrd`,
    ),
  );
}

/** Thrown where the model would open: a check meant to come before it has not failed first. */
export class ModelOpened extends Error {}

/**
 * Replaces ObjectSegmenter.open, for the enclosing suite's tests, with one that counts the opens
 * and throws ModelOpened: "before any model work" is then asserted, not timed.
 */
export function stubModelOpen(): { opens: number } {
  const count = { opens: 0 };
  const open = ObjectSegmenter.open;
  before(() => {
    ObjectSegmenter.open = async () => {
      count.opens++;
      throw new ModelOpened('model opened');
    };
  });
  after(() => {
    ObjectSegmenter.open = open;
  });
  return count;
}
