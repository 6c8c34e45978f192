import type { Worker } from 'node:worker_threads';
import { buildLabelMap } from '../../session/labelMap.js';
import type { LabelMapParts } from '../../session/types.js';
import { spawnSiblingWorker } from '../../platform/siblingWorker.js';

/**
 * Builds volume label maps on one worker thread, so a label-map save does not hold the event loop
 * (building one costs tens of ms per object on a 512x512x16 volume: each object's masks go into
 * the volume and its largest 3D component is kept). The main thread only copies the masks into
 * the message. Spawned on first use; when it cannot run, the map is built here instead.
 */
export class LabelMapBuilder {
  private worker?: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (l: Uint8Array) => void; reject: (e: Error) => void }>();

  build(parts: LabelMapParts): Promise<Uint8Array> {
    const w = this.spawn();
    if (!w) return Promise.resolve(buildLabelMap(parts).labels);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Held while a build is pending (a shutdown's last save waits for it), else it keeps no process alive.
      w.ref();
      w.postMessage({ id, parts });
    });
  }

  private spawn(): Worker | undefined {
    if (this.worker) return this.worker;
    let w: Worker;
    try {
      w = spawnSiblingWorker(import.meta.url, 'labelMapWorker');
    } catch {
      return undefined;
    }
    w.on('message', (m: { id: number; labels?: Uint8Array; error?: string }) => {
      const p = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) w.unref();
      if (m.labels) p?.resolve(m.labels);
      else p?.reject(new Error(`label map worker: ${m.error}`));
    });
    w.on('error', (e) => this.fail(e));
    w.on('exit', () => this.fail(new Error('label map worker exited')));
    w.unref();
    this.worker = w;
    return w;
  }

  private fail(e: Error): void {
    this.worker = undefined;
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    // No ONNX Runtime in this worker: terminating it mid-build is safe.
    if (w) await w.terminate();
  }
}
