/**
 * Image features shared between fixture cases of one parity run (test/parity/predictor.test.ts): the
 * SAM2 fixture cases replay several prompt scripts over the same two inputs, so most of their image
 * encoder runs repeat one another's (same compiled model, same frame tensor), and the encoder is most
 * of a case's time. The wrapped modules answer encodeImage from `memo` when the same model already
 * encoded the same tensor in this process, and run the encoder otherwise; every other module runs as
 * before, so each case's outputs still come from its own memory, heads and prompts. The encoder itself
 * is checked against the official outputs by test/parity/imageEncoder.test.ts. Hand-written: a few
 * lines of delegation.
 */
import { createHash } from 'node:crypto';
import type { Sam2ImageFeatures, Sam2Modules } from '../src/engine/sam2/types.js';

/** Features by model key and frame tensor hash (one map for a whole run of cases). */
export type ImageFeatureMemo = Map<string, Promise<Sam2ImageFeatures>>;

/**
 * `modules` with encodeImage memoised in `memo` under `modelKey` (which names the compiled graphs and
 * their precision). `requests()` counts the predictor's encodeImage calls, read from the memo or not,
 * so a case's "each frame encoded at most once" check still counts what the predictor asked for.
 * A hit is a copy: no case can change what another reads.
 */
export function withSharedImageFeatures(
  modules: Sam2Modules,
  modelKey: string,
  memo: ImageFeatureMemo,
): { modules: Sam2Modules; requests: () => number } {
  let requests = 0;
  const encodeImage = async (image: Float32Array): Promise<Sam2ImageFeatures> => {
    requests++;
    const key = createHash('sha256')
      .update(`${modelKey}\0`)
      .update(new Uint8Array(image.buffer, image.byteOffset, image.byteLength))
      .digest('hex');
    let features = memo.get(key);
    if (!features) {
      features = modules.encodeImage(image);
      memo.set(key, features);
      features.catch(() => memo.delete(key));
    }
    const f = await features;
    return {
      visionFeatures: f.visionFeatures.slice(),
      visionPosEnc: f.visionPosEnc.slice(),
      highRes0: f.highRes0.slice(),
      highRes1: f.highRes1.slice(),
    };
  };
  const shared: Sam2Modules = {
    get imageSize() {
      return modules.imageSize;
    },
    get hiddenDim() {
      return modules.hiddenDim;
    },
    get memDim() {
      return modules.memDim;
    },
    get params() {
      return modules.params;
    },
    encodeImage,
    runSamHeads: (input) => modules.runSamHeads(input),
    downsampleMask: (mask) => modules.downsampleMask(mask),
    encodeMemory: (input) => modules.encodeMemory(input),
    attendMemory: (input) => modules.attendMemory(input),
    objPtrTemporalEncoding: (relPos, tDiffMax) => modules.objPtrTemporalEncoding(relPos, tDiffMax),
  };
  return { modules: shared, requests: () => requests };
}
