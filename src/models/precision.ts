import { MedsamError } from '../common/errors.js';

/**
 * Numeric precision a model runs at. 'fp32' (default) is exact: the graphs whose parity with the
 * official code is checked. 'int8' is the fast mode: linear layers as dynamic int8 GEMMs
 * (models/onnx/quantize.ts), with the accuracy cost measured in BENCHMARKS.md.
 */
export type Precision = 'fp32' | 'int8';

export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

export function parsePrecision(value: string, flag = '--precision'): Precision {
  if ((PRECISIONS as readonly string[]).includes(value)) return value as Precision;
  throw new MedsamError(
    `${flag} must be fp32 or int8, got '${value}'`,
    `pass ${flag} fp32 (exact, default) or ${flag} int8 (faster, not exact)`,
  );
}
