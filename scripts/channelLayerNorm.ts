import { DT, floatValues, toNumber, type ProtoModel, type ProtoNode, type ProtoTensor } from '../src/models/onnx/onnxProto.js';
import { graphLinks } from '../src/models/onnx/quantize.js';

/**
 * SAM's LayerNorm2d (a LayerNorm over the channels of an NCHW tensor) as one `LayerNormalization`
 * kernel over channels-last: a fast-mode rewrite that was measured and **not adopted** (kept for
 * `scripts/int8Variants.ts --module memoryEncoder --variants melin+quick1+ln2d`). It took the int8
 * memory encoder from 29.5 to 22.4 CPU ms per call (the SAM heads 18.0 → 17.4) at a 1.5e-5 relative
 * output change, and that alone flipped tiny512_mask_prompt's near-tied mask choice (3.06 % of a
 * frame's pixels; BENCHMARKS.md "Fast mode, session 14").
 *
 * The exact graphs spell LayerNorm2d the way upstream computes it (torchLayers.ts layerNorm2d:
 * ReduceMean over axis 1, Sub, Mul, ReduceMean, Add ε, Sqrt, Div, Mul γ, Add β) because parity
 * wants upstream's operation order. On ORT's CPU provider that is eight kernels, and the two
 * channel-axis ReduceMeans are strided passes at ≈ 3 ns per element (the memory encoder's mask
 * downsampler runs four of them, the SAM heads three). `Transpose → LayerNormalization(axis −1) →
 * Transpose` is the same normalisation in three contiguous passes; only the float summation order
 * changes. ONNX Runtime has no channel-axis LayerNorm of its own and no pass that rewrites this
 * pattern, hence this one (it works on the decoded model, like quantize.ts).
 */

const attr = (n: ProtoNode, name: string) => n.attribute.find((a) => a.name === name);

function int64s(t: ProtoTensor): number[] {
  if (t.dataType !== DT.int64) return [];
  if (t.rawData?.length) return Array.from(new BigInt64Array(new Uint8Array(t.rawData).buffer), Number);
  return (t.int64Data ?? []).map(toNumber);
}

/** Rewrites every matching LayerNorm2d in place; returns how many. Needs opset ≥ 17 (LayerNormalization). */
export function channelLayerNorms(model: ProtoModel): number {
  const g = model.graph!;
  const opset = toNumber(model.opsetImport.find((x) => (x.domain ?? '') === '')?.version);
  if (opset < 17) return 0;
  const inits = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const { consumers, graphOutputs } = graphLinks(g);
  const only = (t: string): ProtoNode | undefined => {
    const c = consumers.get(t);
    return c?.length === 1 && !graphOutputs.has(t) ? c[0] : undefined;
  };
  const is = (n: ProtoNode | undefined, op: string): n is ProtoNode => n?.opType === op && (n.domain ?? '') === '';
  /** ReduceMean over axis 1 only, keepdims (axes as attribute before opset 18, as a constant input from 18). */
  const channelMean = (n: ProtoNode | undefined): n is ProtoNode => {
    if (!is(n, 'ReduceMean') || toNumber(attr(n, 'keepdims')?.i ?? 1) !== 1) return false;
    const axesInit = n.input[1] ? inits.get(n.input[1]) : undefined;
    const axes = axesInit ? int64s(axesInit) : (attr(n, 'axes')?.ints ?? []).map(toNumber);
    return axes.length === 1 && axes[0] === 1;
  };
  const scalar = (t: string): number | undefined => {
    const v = inits.get(t);
    const f = v && floatValues(v);
    return f?.length === 1 ? f[0] : undefined;
  };
  /** A float constant [C,1,1] (a per-channel affine parameter of an NCHW tensor), as [C]. */
  const perChannel = (t: string): Float32Array | undefined => {
    const v = inits.get(t);
    const dims = v?.dims.map(toNumber);
    return v && dims?.length === 3 && dims[1] === 1 && dims[2] === 1 ? floatValues(v) : undefined;
  };
  const other = (n: ProtoNode, t: string) => (n.input[0] === t ? n.input[1]! : n.input[0]!);

  const replaced = new Map<ProtoNode, ProtoNode[]>(); // first node of a match → its replacement
  const drop = new Set<ProtoNode>();
  const newInits: ProtoTensor[] = [];
  let count = 0;
  for (const mean of g.node) {
    if (!channelMean(mean) || drop.has(mean)) continue;
    const x = mean.input[0]!;
    const sub = only(mean.output[0]!);
    if (!is(sub, 'Sub') || sub.input[0] !== x || sub.input[1] !== mean.output[0]) continue;
    const d = sub.output[0]!;
    const dUses = [...new Set(consumers.get(d) ?? [])]; // Mul(d, d) is listed once per input
    const sq = dUses.find((n) => is(n, 'Mul') && n.input[0] === d && n.input[1] === d);
    const div = dUses.find((n) => is(n, 'Div') && n.input[0] === d);
    if (dUses.length !== 2 || !sq || !div || graphOutputs.has(d)) continue;
    const mean2 = only(sq.output[0]!);
    if (!channelMean(mean2)) continue;
    const addEps = only(mean2.output[0]!);
    if (!is(addEps, 'Add')) continue;
    const eps = scalar(other(addEps, mean2.output[0]!));
    const sqrt = only(addEps.output[0]!);
    if (eps === undefined || !is(sqrt, 'Sqrt') || div.input[1] !== sqrt.output[0] || only(sqrt.output[0]!) !== div) continue;
    const mulW = only(div.output[0]!);
    if (!is(mulW, 'Mul')) continue;
    const w = perChannel(other(mulW, div.output[0]!));
    const addB = only(mulW.output[0]!);
    if (!w || !is(addB, 'Add')) continue;
    const b = perChannel(other(addB, mulW.output[0]!));
    if (!b || b.length !== w.length) continue;
    const base = `ln2d_${count}`;
    const raw = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    newInits.push(
      { name: `${base}.weight`, dataType: DT.float, dims: [w.length], rawData: raw(w) },
      { name: `${base}.bias`, dataType: DT.float, dims: [b.length], rawData: raw(b) },
    );
    const perm = (p: number[]) => [{ name: 'perm', type: 7, ints: p }];
    replaced.set(mean, [
      { opType: 'Transpose', input: [x], output: [`${base}.nhwc`], name: `${base}/to_nhwc`, domain: '', attribute: perm([0, 2, 3, 1]) },
      {
        opType: 'LayerNormalization',
        input: [`${base}.nhwc`, `${base}.weight`, `${base}.bias`],
        output: [`${base}.normed`],
        name: `${base}/layer_norm`,
        domain: '',
        attribute: [
          { name: 'axis', type: 2, i: -1 },
          { name: 'epsilon', type: 1, f: eps },
        ],
      },
      {
        opType: 'Transpose',
        input: [`${base}.normed`],
        output: [addB.output[0]!],
        name: `${base}/to_nchw`,
        domain: '',
        attribute: perm([0, 3, 1, 2]),
      },
    ]);
    for (const n of [mean, sub, sq, div, mean2, addEps, sqrt, mulW, addB]) drop.add(n);
    count++;
  }
  if (!count) return 0;
  const nodes: ProtoNode[] = [];
  for (const n of g.node) {
    const r = replaced.get(n);
    if (r) nodes.push(...r);
    else if (!drop.has(n)) nodes.push(n);
  }
  g.node = nodes;
  // drop the constants only the removed nodes read (ORT warns about unused initializers)
  const used = new Set([...nodes.flatMap((n) => n.input), ...graphOutputs, ...g.input.map((i) => i.name ?? '')]);
  g.initializer = [...g.initializer.filter((t) => used.has(t.name ?? '')), ...newInits];
  return count;
}
