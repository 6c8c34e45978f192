import { readFileSync, rmSync } from 'node:fs';
import { encodePngMask } from '../../io/image2d.js';
import { writeNpz } from '../../io/npzFile.js';
import { labelFont, renderTextLabel } from '../../io/textLabel.js';
import { writeVideo } from '../../io/video.js';
import { IDENTITY_DIRECTION, type Volume } from '../../io/volume.js';
import { buildZip } from '../../io/zip.js';
import type { LoadedFrames } from '../../pipelines/videoFrames.js';
import { maskPngNames } from '../../pipelines/videoOutputs.js';
import { drawObjectLabels, type LabelGlyphs } from '../../pipelines/videoLabel.js';
import { overlayFrame } from '../../pipelines/videoOverlay.js';

/**
 * The three downloads of a video session, the same files `medsam2 video -o out/` writes
 * (videoOutputs.ts), built in memory (or in a server temp file for the encoders that need one):
 * masks.npz (`segs` N,H,W uint8), a zip of masks/<frame>.png (label values), and overlay.mp4.
 * Each carries the objects' names (those the annotator gave, else "object N", as the app lists them):
 * the zip in labels.json, `{"labels": [{"value", "name"}]}` (the value and name fields of a project's
 * label set, projects/types.ts LabelDef); masks.npz as two more arrays, `names` (text, numpy '<U<n>',
 * loads with allow_pickle=False) and `name_values` (int32, the label value of each name); overlay.mp4
 * draws each name beside its mask on every frame the object is in (no font installed: drawn without
 * names, with one warning).
 */

/** An object of the session: its label value and the name it was given, if any. */
export interface ExportObject {
  objId: number;
  name?: string;
}

export const LABELS_JSON = 'labels.json';

/** The label values a label map holds, as unnamed objects (a video job's masks: its objects have no names). */
export function objectsInLabels(labels: Volume): ExportObject[] {
  const seen = new Set<number>();
  const d = labels.data as Uint8Array;
  for (let i = 0; i < d.length; i++) if (d[i]) seen.add(d[i]!);
  return [...seen].map((objId) => ({ objId }));
}

/** Every object of the session by label value, with its name as exported. */
export function exportNames(objects: readonly ExportObject[]): { value: number; name: string }[] {
  return [...objects].sort((a, b) => a.objId - b.objId).map((o) => ({ value: o.objId, name: o.name ?? `object ${o.objId}` }));
}

/** labels.json of masks.zip: every object of the session, by label value. */
export function labelsJson(objects: readonly ExportObject[]): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify({ labels: exportNames(objects) }, null, 2)}\n`);
}

/** Each object's name rendered at a size that reads at the frame's height (empty map: no font). */
async function nameGlyphs(
  objects: readonly ExportObject[],
  height: number,
  warn: (msg: string) => void,
): Promise<Map<number, LabelGlyphs>> {
  const out = new Map<number, LabelGlyphs>();
  if (objects.length === 0) return out;
  if (!labelFont()) {
    warn('overlay.mp4 is drawn without object names: no font found (install fonts-dejavu-core or set MEDSAM2_FONT to a .ttf)');
    return out;
  }
  const size = Math.max(12, Math.round(height / 30));
  for (const { value, name } of exportNames(objects)) {
    const g = await renderTextLabel(name, size);
    if (g) out.set(value, g);
  }
  return out;
}

export const VIDEO_EXPORTS = ['masks.npz', 'masks.zip', 'overlay.mp4'] as const;
export type VideoExport = (typeof VIDEO_EXPORTS)[number];

export const EXPORT_TYPES: Record<VideoExport, string> = {
  'masks.npz': 'application/octet-stream',
  'masks.zip': 'application/zip',
  'overlay.mp4': 'video/mp4',
};

/** One frame's labels out of a [W,H,frames] label map. */
function frameLabels(labels: Volume, k: number): Uint8Array {
  const px = labels.dims[0] * labels.dims[1];
  return (labels.data as Uint8Array).subarray(k * px, (k + 1) * px);
}

export async function buildVideoExport(
  file: VideoExport,
  labels: Volume,
  video: LoadedFrames,
  objects: readonly ExportObject[],
  tempPath: (suffix: string) => string,
  warn: (msg: string) => void = () => {},
): Promise<Uint8Array> {
  const [W, H, N] = labels.dims;
  if (file === 'masks.zip') {
    const names = maskPngNames(N, video.names);
    const members: Record<string, Uint8Array> = { [LABELS_JSON]: labelsJson(objects) };
    for (let k = 0; k < N; k++) {
      const name = `masks/${names[k]}`;
      members[name] = encodePngMask(
        {
          data: frameLabels(labels, k),
          dims: [W, H, 1],
          spacing: [1, 1, 1],
          origin: [0, 0, 0],
          direction: [...IDENTITY_DIRECTION],
          source: { format: 'png', path: name },
        },
        name,
      );
    }
    // PNGs are compressed already.
    return buildZip(members, false);
  }
  const tmp = tempPath(file === 'masks.npz' ? '.npz' : '.mp4');
  try {
    if (file === 'masks.npz') {
      const named = exportNames(objects);
      await writeNpz(
        tmp,
        {
          segs: { dtype: 'uint8', shape: [N, H, W], data: labels.data as Uint8Array },
          name_values: { dtype: 'int32', shape: [named.length], data: Int32Array.from(named, (n) => n.value) },
        },
        { compress: true, text: { names: named.map((n) => n.name) } },
      );
    } else {
      const glyphs = await nameGlyphs(objects, H, warn);
      await writeVideo(
        tmp,
        video.frames.map((f, k) => drawObjectLabels(overlayFrame(f, frameLabels(labels, k), W, H), frameLabels(labels, k), W, H, glyphs)),
        W,
        H,
        video.fps,
      );
    }
    return new Uint8Array(readFileSync(tmp));
  } finally {
    rmSync(tmp, { force: true });
  }
}
