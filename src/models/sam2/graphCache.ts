import { canonicalJson } from '../../common/canonicalJson.js';
import { MedsamError } from '../../common/errors.js';
import { getPlatform, sha256Hex, type BlobCache } from '../../platform/platform.js';
import { loadCheckpoint } from '../checkpoint/index.js';
import { QUANTIZE_SCORES_VERSION, QUANTIZE_VERSION } from '../onnx/quantize.js';
import {
  BUILDER_VERSION,
  compileSam2,
  SAM2_INT8_RECIPE,
  sam2ConfigsFromYaml,
  type Sam2CompileOptions,
  type Sam2CompiledModel,
  type Sam2Graphs,
  type Sam2ModelConfigs,
  type Sam2Params,
} from './compile.js';

/**
 * The cache of compiled SAM2 graphs, over the platform's blob cache (a folder on Node, IndexedDB on
 * the web). Building the graphs needs the whole checkpoint and takes seconds; the cache keys them by
 * sha256(checkpoint file) + the canonical parsed config + the builder version + compile options, so
 * a second run only reads ONNX bytes. An entry (`sam2/<key>/…`) is complete only once its
 * manifest.json exists (written last, atomically). The checkpoint hash itself is remembered per
 * (resource id, size, mtime) in `sam2/checkpoints.json` so an unchanged checkpoint is not re-hashed.
 */

/** Checkpoint and config as platform resources (file paths in Node; URLs or added Files on the web). */
export interface Sam2ModelSource {
  checkpointPath: string;
  /** Model YAML resource, or the YAML text itself. */
  configPath?: string;
  configYaml?: string;
}

export interface GraphCacheOptions extends Sam2CompileOptions {
  /** Cache root (Node: a folder; web: an IndexedDB database); default the platform's ($MEDSAM2_CACHE_DIR, else $XDG_CACHE_HOME/medsam2, else ~/.cache/medsam2 on Node). */
  cacheDir?: string;
  /** A cache to use instead of the platform's (tests, apps with their own storage). */
  cache?: BlobCache;
  /** Ignore (and overwrite) an existing cache entry. */
  rebuild?: boolean;
  /** Progress messages (building, cache hit). */
  log?: (message: string) => void;
}

export interface LoadedSam2Model {
  model: Sam2CompiledModel;
  fromCache: boolean;
  /** Where the cache entry lives (its folder on Node). */
  dir: string;
  key: string;
}

const GRAPH_FILES: Record<keyof Sam2Graphs, string> = {
  imageEncoder: 'image_encoder.onnx',
  samHeads: 'sam_heads.onnx',
  maskDownsample: 'mask_downsample.onnx',
  memoryEncoder: 'memory_encoder.onnx',
  memoryAttention: 'memory_attention.onnx',
  objPtrTpos: 'obj_ptr_tpos.onnx',
};
const PARAM_NAMES = ['noMemEmbed', 'noMemPosEnc', 'maskmemTposEnc', 'noObjPtr'] as const satisfies readonly (keyof Sam2Params)[];

interface Manifest {
  builderVersion: string;
  key: string;
  checkpointSha256: string;
  options: Sam2CompileOptions;
  configs: Sam2ModelConfigs;
  graphs: Partial<Record<keyof Sam2Graphs, string>>;
  params: Record<string, [offset: number, length: number]>;
  unusedKeys: string[];
}

export async function sam2CacheKey(checkpointSha256: string, configs: Sam2ModelConfigs, opts: Sam2CompileOptions = {}): Promise<string> {
  // precision joins the key only when it is not the default, so fp32 keys (and caches) stay as they were
  const options = {
    attention: opts.attention ?? 'matmul',
    ...(opts.precision === 'int8'
      ? { precision: 'int8', quantizer: `${QUANTIZE_VERSION}+${QUANTIZE_SCORES_VERSION}+${SAM2_INT8_RECIPE}` }
      : {}),
  };
  const text = [BUILDER_VERSION, checkpointSha256, canonicalJson(configs), canonicalJson(options)].join('\n');
  return (await sha256Hex(text)).slice(0, 32);
}

type ChecksumIndex = Record<string, { size: number; mtimeMs: number; sha256: string }>;
const INDEX_KEY = 'sam2/checkpoints.json';

/**
 * sha256 of a checkpoint resource, remembered in the cache's `sam2/checkpoints.json` by
 * (resource id, size, mtime) where the platform knows them (Node files), so an unchanged
 * multi-hundred-MB checkpoint is hashed once.
 */
export async function checkpointSha256(path: string, cache: BlobCache): Promise<string> {
  const platform = getPlatform();
  const info = await platform.resourceInfo(path);
  if (!info) throw new MedsamError(`checkpoint ${path} does not exist`, 'check the path');
  const stamp = info.size !== undefined && info.mtimeMs !== undefined ? { size: info.size, mtimeMs: info.mtimeMs } : undefined;
  let index: ChecksumIndex = {};
  if (stamp) {
    try {
      const b = await cache.get(INDEX_KEY);
      if (b) index = JSON.parse(new TextDecoder().decode(b)) as ChecksumIndex;
    } catch {
      index = {};
    }
    const hit = index[info.id];
    if (hit && hit.size === stamp.size && hit.mtimeMs === stamp.mtimeMs) return hit.sha256;
  }
  const sha256 = await platform.resourceSha256(path, 'checkpoint');
  if (stamp) {
    index[info.id] = { ...stamp, sha256 };
    try {
      await cache.put(INDEX_KEY, new TextEncoder().encode(JSON.stringify(index, null, 1)));
    } catch {
      // the index is only an optimisation
    }
  }
  return sha256;
}

async function readConfigText(src: Sam2ModelSource): Promise<string> {
  if (src.configYaml !== undefined) return src.configYaml;
  if (!src.configPath) throw new MedsamError('no SAM2 model config given', 'pass the model YAML (e.g. sam2.1_hiera_t512.yaml)');
  return new TextDecoder().decode(await getPlatform().readResource(src.configPath, 'model config'));
}

async function tryReadEntry(cache: BlobCache, dir: string, key: string, configs: Sam2ModelConfigs): Promise<Sam2CompiledModel | undefined> {
  try {
    const mb = await cache.get(`${dir}/manifest.json`);
    if (!mb) return undefined;
    const m = JSON.parse(new TextDecoder().decode(mb)) as Manifest;
    if (m.builderVersion !== BUILDER_VERSION || m.key !== key) return undefined;
    const graphs: Partial<Sam2Graphs> = {};
    for (const [name, file] of Object.entries(m.graphs) as [keyof Sam2Graphs, string][]) {
      const b = await cache.get(`${dir}/${file}`);
      if (!b) return undefined;
      graphs[name] = b;
    }
    const pb = await cache.get(`${dir}/params.bin`);
    if (!pb) return undefined;
    const all = new Float32Array(pb.buffer.slice(pb.byteOffset, pb.byteOffset + pb.byteLength));
    const params = {} as Sam2Params;
    for (const n of PARAM_NAMES) {
      const [off, len] = m.params[n]!;
      params[n] = all.slice(off, off + len);
    }
    if (!graphs.imageEncoder || !graphs.samHeads || !graphs.memoryEncoder || !graphs.memoryAttention) return undefined;
    return { configs, graphs: graphs as Sam2Graphs, params, checkpointSha256: m.checkpointSha256, unusedKeys: m.unusedKeys };
  } catch {
    return undefined; // a damaged entry is rebuilt
  }
}

async function writeEntry(cache: BlobCache, dir: string, key: string, model: Sam2CompiledModel, opts: Sam2CompileOptions): Promise<void> {
  const graphs: Manifest['graphs'] = {};
  for (const [name, bytes] of Object.entries(model.graphs) as [keyof Sam2Graphs, Uint8Array | undefined][]) {
    if (!bytes) continue;
    await cache.put(`${dir}/${GRAPH_FILES[name]}`, bytes);
    graphs[name] = GRAPH_FILES[name];
  }
  const params: Manifest['params'] = {};
  let n = 0;
  for (const p of PARAM_NAMES) {
    params[p] = [n, model.params[p].length];
    n += model.params[p].length;
  }
  const all = new Float32Array(n);
  for (const p of PARAM_NAMES) all.set(model.params[p], params[p]![0]);
  await cache.put(`${dir}/params.bin`, new Uint8Array(all.buffer));
  const manifest: Manifest = {
    builderVersion: BUILDER_VERSION,
    key,
    checkpointSha256: model.checkpointSha256,
    options: opts,
    configs: model.configs,
    graphs,
    params,
    unusedKeys: model.unusedKeys,
  };
  await cache.put(`${dir}/manifest.json`, new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
}

/** The compiled graphs for a checkpoint + config: from the cache when present, else built and cached. */
export async function loadSam2Compiled(src: Sam2ModelSource, opts: GraphCacheOptions = {}): Promise<LoadedSam2Model> {
  const configs = sam2ConfigsFromYaml(await readConfigText(src));
  const cache = opts.cache ?? getPlatform().blobCache(opts.cacheDir);
  const compileOpts: Sam2CompileOptions = {
    attention: opts.attention ?? 'matmul',
    ...(opts.precision === 'int8' ? { precision: 'int8' as const } : {}),
  };
  const sha = await checkpointSha256(src.checkpointPath, cache);
  const key = await sam2CacheKey(sha, configs, compileOpts);
  const entry = `sam2/${key}`;
  const dir = cache.location(entry);
  if (!opts.rebuild) {
    const hit = await tryReadEntry(cache, entry, key, configs);
    if (hit) {
      opts.log?.(`SAM2 graphs from cache ${dir}`);
      return { model: hit, fromCache: true, dir, key };
    }
  }
  opts.log?.(`building SAM2 graphs from ${src.checkpointPath} (cached in ${dir})`);
  const ckpt = await loadCheckpoint(src.checkpointPath);
  if (ckpt.sha256 !== sha) throw new MedsamError(`checkpoint ${src.checkpointPath} changed while it was being read`, 'run again');
  const model = compileSam2(ckpt, configs, compileOpts);
  await writeEntry(cache, entry, key, model, compileOpts);
  return { model, fromCache: false, dir, key };
}
