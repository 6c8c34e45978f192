import type { SegmentSpec } from '../../io/dicom/segWrite.js';
import type { Volume } from '../../io/volume.js';

/**
 * The segments of a session's DICOM SEG / RTSTRUCT download: each label value its label map holds,
 * named as the annotator named its object (SegmentLabel, ROIName). Undefined when no object has a
 * name, so the writers list the labels themselves with their default names ("object N") and an
 * unnamed session's file is what it was before names existed.
 */
export function namedSegments(labels: Volume, objects: readonly { objId: number; name?: string }[]): SegmentSpec[] | undefined {
  const names = new Map(objects.filter((o) => o.name !== undefined).map((o) => [o.objId, o.name!]));
  if (names.size === 0) return undefined;
  const present = new Set<number>();
  const d = labels.data;
  for (let i = 0; i < d.length; i++) if (d[i]) present.add(Number(d[i]));
  return [...present].sort((a, b) => a - b).map((label) => ({ label, ...(names.has(label) ? { name: names.get(label)! } : {}) }));
}
