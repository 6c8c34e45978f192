import { familyFor } from '../families/registry.js';
import type { Precision } from '../models/precision.js';
import type { OpenedModel } from '../families/family.js';
import { resolveModel, type ModelEntry } from '../models/registry.js';
import type { ModelLease, ModelPoolApi } from './types.js';

interface Slot {
  entry: ModelEntry;
  opening: Promise<OpenedModel>;
  refs: number;
  idleTimer?: ReturnType<typeof setTimeout>;
}

export interface ModelPoolOptions {
  /**
   * How long a model with no leases stays open, ms (default 5 minutes). 0 closes it as soon as the
   * last lease is released. Timers are unref'd: an idle pool never keeps the process alive.
   */
  idleMs?: number;
  /**
   * Told when a model's last open (of any threads/precision) has been closed and its runtime
   * sessions released, so what a host keeps beside the model (the server's click-decoder threads)
   * can go with it.
   */
  onClose?: (entry: ModelEntry) => void;
}

/**
 * Opened models shared by Sessions: one open per (model id, threads, cache dir), reference
 * counted, so a second Session on the same model reuses the ORT sessions instead of reloading
 * the graphs; a model nobody leases is closed after `idleMs`.
 */
export class ModelPool implements ModelPoolApi {
  private readonly slots = new Map<string, Slot>();
  private readonly idleMs: number;
  private readonly onClose: ((entry: ModelEntry) => void) | undefined;
  openCount = 0;

  constructor(opts: ModelPoolOptions = {}) {
    this.idleMs = opts.idleMs ?? 5 * 60_000;
    this.onClose = opts.onClose;
  }

  async acquire(
    model: string | ModelEntry,
    opts: { threads?: number; precision?: Precision; cacheDir?: string; log?: (m: string) => void } = {},
  ): Promise<ModelLease> {
    const entry = typeof model === 'string' ? resolveModel(model) : model;
    const key = JSON.stringify([
      entry.id,
      entry.family,
      opts.threads ?? null,
      opts.cacheDir ?? null,
      ...(opts.precision === 'int8' ? ['int8'] : []),
    ]);
    let slot = this.slots.get(key);
    if (!slot) {
      this.openCount++;
      const opening = familyFor(entry).open(entry, {
        threads: opts.threads,
        precision: opts.precision,
        cacheDir: opts.cacheDir,
        log: opts.log,
      });
      slot = { entry, opening, refs: 0 };
      this.slots.set(key, slot);
      // A failed open must not stay pooled.
      opening.catch(() => {
        if (this.slots.get(key) === slot) this.slots.delete(key);
      });
    }
    if (slot.idleTimer) {
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
    }
    slot.refs++;
    let opened: OpenedModel;
    try {
      opened = await slot.opening;
    } catch (e) {
      slot.refs--;
      throw e;
    }
    let released = false;
    const s = slot;
    return {
      model: opened,
      release: () => {
        if (released) return;
        released = true;
        s.refs--;
        if (s.refs > 0) return;
        if (this.idleMs === 0) {
          void this.close(key, s);
          return;
        }
        s.idleTimer = setTimeout(() => void this.close(key, s), this.idleMs);
        s.idleTimer.unref?.();
      },
    };
  }

  /** Models currently open (leased or idle). */
  get size(): number {
    return this.slots.size;
  }

  private async close(key: string, slot: Slot): Promise<void> {
    if (slot.refs > 0 || this.slots.get(key) !== slot) return;
    this.slots.delete(key);
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    await (await slot.opening).release();
    const id = slot.entry.id;
    if (this.onClose && ![...this.slots.values()].some((s) => s.entry.id === id)) this.onClose(slot.entry);
  }

  async drain(): Promise<void> {
    await Promise.all([...this.slots].filter(([, s]) => s.refs === 0).map(([k, s]) => this.close(k, s)));
  }
}
