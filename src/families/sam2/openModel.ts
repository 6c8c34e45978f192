import { MedsamError } from '../../common/errors.js';
import { Sam2Engine } from '../../engine/sam2/sam2Engine.js';
import { sam2ModelFiles } from '../../models/node/importModel.js';
import type { ModelEntry } from '../../models/registry.js';
import { sam2Dims, type Sam2CompiledModel } from '../../models/sam2/compile.js';
import { loadSam2Compiled } from '../../models/sam2/graphCache.js';
import type { Precision } from '../../models/precision.js';

/**
 * Opens a model registered by `medsam2 models import`: its compiled graphs (from the cache, built
 * on a miss), refusing a checkpoint file that changed since import, and the ORT engine over them.
 */
export async function openRegisteredSam2(
  entry: ModelEntry,
  opts: { threads?: number; cacheDir?: string; log?: (m: string) => void; precision?: Precision } = {},
): Promise<{ model: Sam2CompiledModel; engine: Sam2Engine }> {
  const files = sam2ModelFiles(entry);
  const { model } = await loadSam2Compiled(
    { checkpointPath: files.checkpoint, configPath: files.config },
    { cacheDir: opts.cacheDir, log: opts.log, precision: opts.precision },
  );
  const expectSha = (entry as { sha256?: unknown }).sha256;
  if (typeof expectSha === 'string' && expectSha !== model.checkpointSha256) {
    throw new MedsamError(
      `model '${entry.id}': checkpoint ${files.checkpoint} changed since it was imported (sha256 ${model.checkpointSha256.slice(0, 12)}…, registered ${expectSha.slice(0, 12)}…)`,
      `re-import it: medsam2 models import ${files.checkpoint} --id ${entry.id} --force`,
    );
  }
  return { model, engine: await Sam2Engine.create(model, { threads: opts.threads }) };
}

/**
 * How many frames' image features fit in `budgetMiB` (default 1024), capped at the frame count.
 * A cached frame holds 16·C·h·w bytes (vision features + both high-res levels, float32):
 * 4 MiB for the 512 px tiny model.
 */
export function featureCacheFrames(model: Sam2CompiledModel, frameCount: number, budgetMiB = 1024): number {
  const d = sam2Dims(model.configs);
  const bytesPerFrame = 16 * d.hiddenDim * (d.imageSize / model.configs.predictor.backboneStride) ** 2;
  return Math.max(1, Math.min(frameCount, Math.floor((budgetMiB * 2 ** 20) / bytesPerFrame)));
}
