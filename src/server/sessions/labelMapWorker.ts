/**
 * The worker thread of LabelMapBuilder: builds a volume session's label map from its parts
 * (buildLabelMap: the same code Session.labelMap() runs) and posts it back, one request at a time.
 */
import { parentPort } from 'node:worker_threads';
import { buildLabelMap } from '../../session/labelMap.js';
import type { LabelMapParts } from '../../session/types.js';

parentPort!.on('message', (m: { id: number; parts: LabelMapParts }) => {
  try {
    const { labels } = buildLabelMap(m.parts);
    parentPort!.postMessage({ id: m.id, labels }, [labels.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
