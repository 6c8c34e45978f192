import type { GraphBuilder, T } from '../../onnx/graphBuilder.js';

/**
 * nn.MaxPool2d(kernel=stride, ceil_mode=False) on a channels-last (N,H,W,C) tensor, returning
 * (N,⌊H/sy⌋,⌊W/sx⌋,C). Written as reshape + ReduceMax (opset ≥ 18, axes as an input) so the
 * channels-last layout Hiera keeps needs no transposes to and from NCHW; max is exact either way.
 */
export function maxPoolNhwc(g: GraphBuilder, x: T, dims: readonly [number, number, number, number], stride: readonly [number, number]): T {
  const [n, h, w, c] = dims;
  const [sy, sx] = stride;
  const ph = Math.floor(h / sy);
  const pw = Math.floor(w / sx);
  let y = x;
  if (ph * sy !== h || pw * sx !== w) y = g.slice(y, [0, 0], [ph * sy, pw * sx], [1, 2]);
  y = g.reshape(y, [n, ph, sy, pw, sx, c]);
  return g.op1('ReduceMax', [y, g.constI([2, 4])], { keepdims: 0 });
}
