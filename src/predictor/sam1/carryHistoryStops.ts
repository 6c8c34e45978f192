// Stop rules that read a carry's recent history rather than one slice alone (issue 13, session 12).
// The per-slice stops (predicted IoU, stability, centroid jump, growth; sessions 4–9) could not tell
// a slice past the object's end from one inside it. Two shapes over the last few kept slices can:
// the decoder's IoU estimate dropping below its own recent level (the object gave way to something
// it is less sure of), and the mask shrinking steadily slice after slice (a tapering neighbour
// followed past the object's tip). Both are opt-in options of Sam1PropagationOptions.

/** What a carry remembers of each slice it kept. */
export interface KeptStep {
  predictedIoU: number;
  area: number;
  prevArea: number;
}

/**
 * How far `iou` lies below the mean predicted IoU of the last `window` kept slices; undefined until
 * at least two slices were kept (one slice is no level to fall from).
 */
export function predictedIoUDrop(history: readonly KeptStep[], iou: number, window = 3): number | undefined {
  if (history.length < 2) return undefined;
  const last = history.slice(-window);
  return last.reduce((s, x) => s + x.predictedIoU, 0) / last.length - iou;
}

/**
 * Whether this slice and the `n − 1` kept before it each shrank below `ratio` × their previous
 * slice's area: a steady shrink over n slices.
 */
export function steadyShrink(history: readonly KeptStep[], now: KeptStep, n: number, ratio: number): boolean {
  if (history.length < n - 1) return false;
  return [...history.slice(history.length - (n - 1)), now].every((s) => s.area < ratio * s.prevArea);
}
