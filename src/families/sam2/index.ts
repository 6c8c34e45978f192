import { MedsamError } from '../../common/errors.js';
import type { ModelEntry } from '../../models/registry.js';
import type { FamilyOpenOptions, FrameStack, ModelFamily, OpenedModel, SlicePrompt, TrackerOptions } from '../family.js';
import { openRegisteredSam2 } from './openModel.js';
import { Sam2Tracker } from './sam2Tracker.js';

export { Sam2Tracker } from './sam2Tracker.js';
export { featureCacheFrames, openRegisteredSam2 } from './openModel.js';
export { sam2VideoFrameTensor, stackFrameSource, videoNormalizationLut } from './frameSources.js';

/** SAM2 / MedSAM2 checkpoints imported with `medsam2 models import`: the memory-based video predictor. */
export const sam2Family: ModelFamily = {
  id: 'sam2',
  async open(entry: ModelEntry, opts: FamilyOpenOptions): Promise<OpenedModel> {
    const { model, engine } = await openRegisteredSam2(entry, {
      threads: opts.threads,
      precision: opts.precision,
      cacheDir: opts.cacheDir,
      log: opts.log,
    });
    return {
      entry,
      family: 'sam2',
      startTracker: (stack: FrameStack, o: TrackerOptions) => new Sam2Tracker(model, engine, stack, o),
      release: () => engine.release(),
    };
  },
  checkPrompt(p: SlicePrompt, where: string): void {
    if (p.mask && (p.box || p.recist || p.points?.length)) {
      throw new MedsamError(
        `${where} has a mask and a box/points/RECIST; a SAM2 model takes one or the other on a slice`,
        'give either the mask or the box/points',
      );
    }
  },
};
