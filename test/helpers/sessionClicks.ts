import type { TrackerOptions } from '../../src/families/family.js';
import type { Volume } from '../../src/io/volume.js';
import type { SliceClick } from '../../src/predictor/sam1/correction.js';
import type { VolumePrompt } from '../../src/predictor/prompts.js';
import { Session } from '../../src/session/index.js';
import { withCachedSam1Encodes } from './runEmbeddingCache.js';

/**
 * Replays simulated clicks as a user would in a Session (the box on its key slice, propagate,
 * then each click: correct + propagate) and counts the voxels where the Session's label map and
 * `mask` differ (as binary): 0 when the simulated clicks and a user's take one correction path.
 * `sam1`: the Session's propagation options, as the simulated run's. `embeddingCacheDir`: the
 * simulated run's embedding cache, so the Session reads the slices it encoded instead of encoding
 * them again (withCachedSam1Encodes).
 */
export async function sessionClicksDiff(
  image: Volume,
  prompt: Pick<VolumePrompt, 'slice' | 'box'>,
  clicks: readonly SliceClick[],
  mask: ArrayLike<number>,
  sam1?: TrackerOptions['sam1'],
  embeddingCacheDir?: string,
): Promise<number> {
  if (embeddingCacheDir) return withCachedSam1Encodes(embeddingCacheDir, () => sessionClicksDiff(image, prompt, clicks, mask, sam1));
  const s = await Session.open(image, { threads: 2, ...(sam1 ? { family: { sam1 } } : {}) });
  try {
    await s.addPrompt(1, prompt.slice, { box: prompt.box });
    await s.propagate();
    for (const k of clicks) {
      await s.correct(1, k.slice, { points: [{ x: k.x, y: k.y, label: k.label }] });
      await s.propagate();
    }
    const got = s.labelMap().data as Uint8Array;
    let diff = 0;
    for (let i = 0; i < got.length; i++) if (!got[i] !== !mask[i]) diff++;
    return diff;
  } finally {
    await s.close();
  }
}
