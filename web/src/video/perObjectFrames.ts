// What video mode keeps per object and frame (the clicks, the boxes): one map of maps with the same
// bookkeeping, so a frame's prompts, an object and everything can be dropped the same way for both.
export class PerObjectFrames<T> {
  protected readonly byObject = new Map<number, Map<number, T>>();

  protected frames(objId: number): Map<number, T> {
    let o = this.byObject.get(objId);
    if (!o) this.byObject.set(objId, (o = new Map()));
    return o;
  }

  clearFrame(objId: number, frame: number): void {
    this.byObject.get(objId)?.delete(frame);
  }

  removeObject(objId: number): void {
    this.byObject.delete(objId);
  }

  clear(): void {
    this.byObject.clear();
  }
}
