/** Where a propagation's time went in the page (App.lastPropagation): DOM-free, so scripts/benchWeb.ts reads the same type. */
/** In ms from the Propagate click. */
export interface PropagationTimings {
  /** Click → the last streamed slice drawn on the 2D planes ("last slice shown"). */
  shownMs: number;
  /** Click → the last mask event arrived. */
  lastMaskMs: number;
  masks: number;
  /** RLE decode + writing into the overlay, all masks. */
  applyMs: number;
  /** Overlay redraws while streaming (and the final one), and their time here. */
  refreshes: number;
  refreshMs: number;
  /** Of those redraws: how many uploaded only the changed slices, and how many the whole label layer. */
  sliceUploads?: number;
  fullUploads?: number;
  /** The last 2D draw after the stream ended. */
  finalDrawMs: number;
  /** The 3D render tile, held while streaming, drawn once. */
  render3dMs: number;
  /** GET /sessions/{id} after the stream. */
  sessionMs: number;
  /** The server's own propagation time (its `done` event). */
  serverSeconds?: number;
}
