import { MedsamError } from '../../common/errors.js';

/**
 * Typed, strict access to one `_target_` node of a hydra-style SAM2 YAML. Mirrors what the
 * upstream constructors would do with the same kwargs: a missing required argument, a wrong type,
 * an unknown argument or an unexpected `_target_` is an error (named by its YAML path);
 * an omitted optional argument takes the constructor default given here.
 */
export class ConfigNode {
  private readonly used = new Set<string>(['_target_']);

  constructor(
    readonly raw: Record<string, unknown>,
    readonly path: string,
    private readonly source: string,
  ) {}

  static root(doc: unknown, source: string): ConfigNode {
    if (!isObject(doc))
      throw new MedsamError(
        `${source} is not a SAM2 model config (expected a YAML mapping)`,
        'pass a SAM2 YAML such as sam2.1_hiera_t512.yaml',
      );
    const model = doc.model;
    if (!isObject(model))
      throw new MedsamError(`${source} has no 'model:' section`, 'pass a SAM2 model YAML such as sam2.1_hiera_t512.yaml');
    return new ConfigNode(model, 'model', source);
  }

  private fail(key: string, why: string, fix = 'fix the model YAML'): never {
    throw new MedsamError(`${this.source}: '${this.path}.${key}' ${why}`, fix);
  }

  /** Check `_target_` (when present) is one of the accepted classes. */
  target(accepted: readonly string[]): string {
    const t = this.raw._target_;
    if (t === undefined || t === null) return accepted[0];
    if (typeof t !== 'string' || !accepted.includes(t)) {
      throw new MedsamError(
        `${this.source}: '${this.path}._target_' is ${String(t)}, which medsam2.js does not implement (expected ${accepted.join(' or ')})`,
        'use a SAM2 / SAM2.1 / MedSAM2 Hiera model YAML',
      );
    }
    return t;
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  private get(key: string): unknown {
    this.used.add(key);
    const v = this.raw[key];
    if (typeof v === 'string' && v.includes('${'))
      this.fail(key, `is an unresolved interpolation (${v})`, 'replace the interpolation with its value');
    return v;
  }

  child(key: string): ConfigNode {
    const v = this.get(key);
    if (!isObject(v)) this.fail(key, v === undefined || v === null ? 'is missing' : 'is not a mapping', 'use a complete SAM2 model YAML');
    return new ConfigNode(v as Record<string, unknown>, `${this.path}.${key}`, this.source);
  }

  optionalChild(key: string): ConfigNode | undefined {
    if (this.has(key)) return this.child(key);
    this.used.add(key);
    return undefined;
  }

  num(key: string, dflt?: number): number {
    const v = this.get(key);
    if (v === undefined || v === null) {
      if (dflt === undefined) this.fail(key, 'is missing', 'use a complete SAM2 model YAML');
      return dflt!;
    }
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) this.fail(key, `is not a number (${JSON.stringify(v)})`);
    return n as number;
  }

  int(key: string, dflt?: number): number {
    const n = this.num(key, dflt);
    if (!Number.isInteger(n)) this.fail(key, `must be an integer (got ${n})`);
    return n;
  }

  /** A number or null (e.g. PositionEmbeddingSine.scale). */
  numOrNull(key: string): number | null {
    const v = this.get(key);
    return v === undefined || v === null ? null : this.num(key);
  }

  bool(key: string, dflt?: boolean): boolean {
    const v = this.get(key);
    if (v === undefined || v === null) {
      if (dflt === undefined) this.fail(key, 'is missing', 'use a complete SAM2 model YAML');
      return dflt!;
    }
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'True') return true;
    if (v === 'false' || v === 'False') return false;
    return this.fail(key, `is not true/false (${JSON.stringify(v)})`);
  }

  str<T extends string>(key: string, allowed: readonly T[], dflt?: T): T {
    const v = this.get(key);
    if (v === undefined || v === null) {
      if (dflt === undefined) this.fail(key, 'is missing', 'use a complete SAM2 model YAML');
      return dflt!;
    }
    if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(key, `is ${JSON.stringify(v)}; supported: ${allowed.join(', ')}`);
    return v as T;
  }

  ints(key: string, dflt?: readonly number[], len?: number): number[] {
    const v = this.get(key);
    if (v === undefined || v === null) {
      if (dflt === undefined) this.fail(key, 'is missing', 'use a complete SAM2 model YAML');
      return [...dflt!];
    }
    if (!Array.isArray(v) || v.some((e) => !Number.isInteger(typeof e === 'string' ? Number(e) : e)))
      this.fail(key, `is not a list of integers (${JSON.stringify(v)})`);
    const out = (v as unknown[]).map(Number);
    if (len !== undefined && out.length !== len) this.fail(key, `must have ${len} entries (has ${out.length})`);
    return out;
  }

  intsOrNull(key: string): number[] | null {
    const v = this.get(key);
    return v === undefined || v === null ? null : this.ints(key);
  }

  /** Any keyword the upstream constructor would reject (typos, other architectures) is an error. */
  done(ignorable: readonly string[] = []): void {
    for (const k of Object.keys(this.raw)) {
      if (!this.used.has(k) && !ignorable.includes(k)) {
        throw new MedsamError(
          `${this.source}: '${this.path}.${k}' is not a parameter medsam2.js knows for this module`,
          'remove it, or check the spelling against the SAM2 configs',
        );
      }
    }
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
