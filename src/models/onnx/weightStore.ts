import { MedsamError } from '../../common/errors.js';
import type { NdArray } from '../../io/ndarray.js';

/**
 * Checkpoint tensors by state-dict key, tracking which ones the graph builders consumed so a
 * wrong checkpoint (missing keys, or a different architecture with extra keys) is reported by name.
 */
export class WeightStore {
  private used = new Set<string>();
  constructor(
    private readonly tensors: Map<string, NdArray>,
    private readonly source = 'checkpoint',
  ) {}

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  /** Float32 data of `key`, checking the shape when given. */
  get(key: string, shape?: readonly number[]): { data: Float32Array; shape: number[] } {
    const t = this.tensors.get(key);
    if (!t)
      throw new MedsamError(
        `${this.source} has no tensor '${key}'`,
        'the checkpoint does not match the model config; pass the config it was trained with',
      );
    if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
      throw new MedsamError(
        `${this.source} tensor '${key}' has shape [${t.shape}], config expects [${shape}]`,
        'the checkpoint does not match the model config; pass the config it was trained with',
      );
    }
    this.used.add(key);
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
    return { data, shape: [...t.shape] };
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  unusedKeys(prefix = ''): string[] {
    return [...this.tensors.keys()].filter((k) => k.startsWith(prefix) && !this.used.has(k));
  }
}
