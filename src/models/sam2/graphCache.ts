import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { MedsamError, errorMessage } from '../../common/errors.js';
import { writeFileAtomic } from '../../io/atomicWrite.js';
import { loadCheckpoint } from '../checkpoint/index.js';
import { QUANTIZE_VERSION } from '../onnx/quantize.js';
import {
  BUILDER_VERSION, compileSam2, sam2ConfigsFromYaml,
  type Sam2CompileOptions, type Sam2CompiledModel, type Sam2Graphs, type Sam2ModelConfigs, type Sam2Params,
} from './compile.js';

/**
 * On-disk cache of compiled SAM2 graphs. Building the graphs needs the whole checkpoint and takes
 * seconds; the cache keys them by sha256(checkpoint file) + the canonical parsed config + the
 * builder version + compile options, so a second run only reads ONNX files. A folder is complete
 * only once its manifest.json exists (written last, atomically). The checkpoint hash itself is
 * remembered per (path, size, mtime) so an unchanged checkpoint is not re-hashed.
 */

export interface Sam2ModelSource {
  checkpointPath: string;
  /** Model YAML path, or the YAML text itself. */
  configPath?: string;
  configYaml?: string;
}

export interface GraphCacheOptions extends Sam2CompileOptions {
  /** Cache root; default $MEDSAM2_CACHE_DIR, else $XDG_CACHE_HOME/medsam2, else ~/.cache/medsam2. */
  cacheDir?: string;
  /** Ignore (and overwrite) an existing cache entry. */
  rebuild?: boolean;
  /** Progress messages (building, cache hit). */
  log?: (message: string) => void;
}

export interface LoadedSam2Model {
  model: Sam2CompiledModel;
  fromCache: boolean;
  /** The cache entry folder. */
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

export function defaultCacheDir(): string {
  if (process.env.MEDSAM2_CACHE_DIR) return resolve(process.env.MEDSAM2_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg ? resolve(xdg) : join(homedir(), '.cache'), 'medsam2');
}

/** JSON with object keys sorted at every level (stable across key order and YAML formatting). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function sam2CacheKey(checkpointSha256: string, configs: Sam2ModelConfigs, opts: Sam2CompileOptions = {}): string {
  // precision joins the key only when it is not the default, so fp32 keys (and caches) stay as they were
  const options = { attention: opts.attention ?? 'matmul', ...(opts.precision === 'int8' ? { precision: 'int8', quantizer: QUANTIZE_VERSION } : {}) };
  const text = [BUILDER_VERSION, checkpointSha256, canonicalJson(configs), canonicalJson(options)].join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((res, rej) => {
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => res()).on('error', rej);
  });
  return h.digest('hex');
}

/** sha256 of the checkpoint, remembered in <cache>/sam2/checkpoints.json by (path, size, mtime). */
async function checkpointSha256(path: string, root: string): Promise<string> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new MedsamError(`checkpoint ${path} does not exist`, 'check the path');
  const st = statSync(abs);
  const indexPath = join(root, 'checkpoints.json');
  let index: Record<string, { size: number; mtimeMs: number; sha256: string }> = {};
  try {
    if (existsSync(indexPath)) index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch {
    index = {};
  }
  const hit = index[abs];
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
  const sha256 = await hashFile(abs);
  index[abs] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
  try {
    writeFileAtomic(indexPath, new TextEncoder().encode(JSON.stringify(index, null, 1)));
  } catch {
    // the index is only an optimisation
  }
  return sha256;
}

function readConfigText(src: Sam2ModelSource): string {
  if (src.configYaml !== undefined) return src.configYaml;
  if (!src.configPath) throw new MedsamError('no SAM2 model config given', 'pass the model YAML (e.g. sam2.1_hiera_t512.yaml)');
  if (!existsSync(src.configPath)) throw new MedsamError(`model config ${src.configPath} does not exist`, 'check the path');
  return readFileSync(src.configPath, 'utf8');
}

function tryReadEntry(dir: string, key: string, configs: Sam2ModelConfigs): Sam2CompiledModel | undefined {
  const mPath = join(dir, 'manifest.json');
  if (!existsSync(mPath)) return undefined;
  try {
    const m = JSON.parse(readFileSync(mPath, 'utf8')) as Manifest;
    if (m.builderVersion !== BUILDER_VERSION || m.key !== key) return undefined;
    const graphs: Partial<Sam2Graphs> = {};
    for (const [name, file] of Object.entries(m.graphs) as [keyof Sam2Graphs, string][]) {
      const b = readFileSync(join(dir, file));
      graphs[name] = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
    const pb = readFileSync(join(dir, 'params.bin'));
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

function writeEntry(dir: string, key: string, model: Sam2CompiledModel, opts: Sam2CompileOptions): void {
  mkdirSync(dir, { recursive: true });
  const graphs: Manifest['graphs'] = {};
  for (const [name, bytes] of Object.entries(model.graphs) as [keyof Sam2Graphs, Uint8Array | undefined][]) {
    if (!bytes) continue;
    writeFileAtomic(join(dir, GRAPH_FILES[name]), bytes);
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
  writeFileAtomic(join(dir, 'params.bin'), new Uint8Array(all.buffer));
  const manifest: Manifest = {
    builderVersion: BUILDER_VERSION, key, checkpointSha256: model.checkpointSha256, options: opts,
    configs: model.configs, graphs, params, unusedKeys: model.unusedKeys,
  };
  writeFileAtomic(join(dir, 'manifest.json'), new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
}

/** The compiled graphs for a checkpoint + config: from the cache when present, else built and cached. */
export async function loadSam2Compiled(src: Sam2ModelSource, opts: GraphCacheOptions = {}): Promise<LoadedSam2Model> {
  const configs = sam2ConfigsFromYaml(readConfigText(src));
  const root = join(opts.cacheDir ? resolve(opts.cacheDir) : defaultCacheDir(), 'sam2');
  try {
    mkdirSync(root, { recursive: true });
  } catch (e) {
    throw new MedsamError(`cannot create the model cache folder ${root}: ${errorMessage(e)}`, 'set MEDSAM2_CACHE_DIR to a writable folder');
  }
  const compileOpts: Sam2CompileOptions = { attention: opts.attention ?? 'matmul', ...(opts.precision === 'int8' ? { precision: 'int8' as const } : {}) };
  const sha = await checkpointSha256(src.checkpointPath, root);
  const key = sam2CacheKey(sha, configs, compileOpts);
  const dir = join(root, key);
  if (!opts.rebuild) {
    const hit = tryReadEntry(dir, key, configs);
    if (hit) {
      opts.log?.(`SAM2 graphs from cache ${dir}`);
      return { model: hit, fromCache: true, dir, key };
    }
  }
  opts.log?.(`building SAM2 graphs from ${src.checkpointPath} (cached in ${dir})`);
  const ckpt = await loadCheckpoint(src.checkpointPath);
  if (ckpt.sha256 !== sha) throw new MedsamError(`checkpoint ${src.checkpointPath} changed while it was being read`, 'run again');
  const model = compileSam2(ckpt, configs, compileOpts);
  writeEntry(dir, key, model, compileOpts);
  return { model, fromCache: false, dir, key };
}
