/**
 * One process-wide hook told the duration of every ONNX Runtime run, with the module that ran
 * (image_encoder, prompt_mask_decoder, memory_attention, …). A host that measures (the server's
 * /metrics) sets it; the engine never knows who listens, so lower layers import nothing above them.
 */
export type OrtRunObserver = (module: string, seconds: number) => void;

let observer: OrtRunObserver | undefined;

/** Sets (or, with undefined, clears) the observer. */
export function setOrtRunObserver(fn: OrtRunObserver | undefined): void {
  observer = fn;
}

export function reportOrtRun(module: string, seconds: number): void {
  if (!observer) return;
  try {
    observer(module, seconds);
  } catch {
    // A failing observer must not fail the segmentation.
  }
}
