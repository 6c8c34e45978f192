import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { MedsamError, errorMessage } from '../../common/errors.js';
import { writeFileAtomic } from '../../io/atomicWrite.js';
import { getPlatform } from '../../platform/platform.js';
import { loadCheckpoint } from '../checkpoint/index.js';
import { listModels, type ModelEntry } from '../registry.js';
import { BUILDER_VERSION, sam2ConfigsFromYaml, type Sam2ModelConfigs } from '../sam2/compile.js';
import { builtinConfigYaml, normalizeConfigId, BUILTIN_CONFIG_IDS, type BuiltinConfigId } from '../sam2/configs/builtin.js';
import { checkpointSha256, loadSam2Compiled } from '../sam2/graphCache.js';
import { findZooEntry, identifyCheckpoint, type ZooEntry } from '../zoo.js';
import { loadUserModels, userModelDir } from './userModels.js';

/**
 * `medsam2 models import`: turn a SAM2 / MedSAM2 checkpoint (+ config) into a registered model.
 * The checkpoint is identified by SHA-256 against the zoo, every module graph is compiled through
 * the on-disk graph cache (so a later import or segmentation of the same checkpoint + config does
 * not rebuild), the build is checked to have consumed every checkpoint tensor, and only then is the
 * registry entry written (config copy first, JSON last, both atomically) into the user model dir.
 */

/** A registry entry written by the importer: ModelEntry plus what identifies the weights. */
export interface ImportedSam2Entry extends ModelEntry {
  family: 'sam2';
  /** files.checkpoint: absolute path of the .pt/.safetensors; files.config: the YAML copy next to the JSON. */
  files: { checkpoint: string; config: string };
  sha256: string;
  checkpointBytes: number;
  /** 'builtin:<id>' or the absolute path of the YAML the user passed. */
  configSource: string;
  /** Zoo id when the checkpoint is a known official file. */
  zooId?: string;
  builderVersion: string;
  importedAt: string;
}

export interface ImportModelOptions {
  /** Model YAML path or built-in config id; required for checkpoints the zoo does not know. */
  config?: string;
  /** Registry id; default: the zoo id, else the checkpoint file name without extension. */
  id?: string;
  /** Replace an existing entry with the same id. */
  force?: boolean;
  /** Registry folder; default userModelDir() ($MEDSAM2_HOME/models or ~/.medsam2/models). */
  modelDir?: string;
  /** Graph cache root; default the graph cache's own default ($MEDSAM2_CACHE_DIR, …). */
  cacheDir?: string;
  /** Progress lines (hashing, compiling, cache hit). */
  log?: (message: string) => void;
  /** One-line warnings (unknown checkpoint, config override). */
  warn?: (message: string) => void;
}

export interface ImportModelResult {
  entry: ImportedSam2Entry;
  /** The JSON file written. */
  registryPath: string;
  zoo?: ZooEntry;
  /** How the zoo entry was matched. */
  zooMatch: 'sha256' | 'file-name' | 'none';
  /** true when every graph came from the cache (nothing was rebuilt). */
  fromCache: boolean;
  /** Graph cache entry folder. */
  graphDir: string;
  graphBytes: number;
  warnings: string[];
  seconds: number;
}

/** Same rule as the registry's id check. */
const ID_RE = /^[A-Za-z0-9._-]+$/;

/** SAM2 was trained with ImageNet statistics on 0..1 pixels (the frames are /255 first). */
const SAM2_NORMALISATION: ModelEntry['normalisation'] = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: '0-1' };

function checkCheckpointFile(path: string): { abs: string; size: number } {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new MedsamError(`checkpoint ${path} does not exist`, 'check the path');
  const st = statSync(abs);
  if (st.isDirectory()) throw new MedsamError(`checkpoint ${path} is a folder, not a file`, 'pass the .pt or .safetensors file');
  if (st.size === 0) throw new MedsamError(`checkpoint ${path} is empty (0 bytes)`, 're-download the checkpoint');
  return { abs, size: st.size };
}

interface ConfigChoice {
  yaml: string;
  /** 'builtin:<id>' or an absolute path. */
  source: string;
  /** For messages. */
  label: string;
}

function configFromArg(arg: string): ConfigChoice {
  if (existsSync(arg) && statSync(arg).isFile()) {
    const abs = resolve(arg);
    return { yaml: readFileSync(abs, 'utf8'), source: abs, label: arg };
  }
  const id = normalizeConfigId(arg);
  if (id) return builtinConfig(id);
  throw new MedsamError(
    `--config ${arg} is neither an existing YAML file nor a built-in config`,
    `pass a SAM2 model YAML path or one of ${BUILTIN_CONFIG_IDS.join(', ')}`,
  );
}

function builtinConfig(id: BuiltinConfigId): ConfigChoice {
  return { yaml: builtinConfigYaml(id), source: `builtin:${id}`, label: `built-in ${id}` };
}

function defaultId(zoo: ZooEntry | undefined, checkpointPath: string): string {
  if (zoo) return zoo.id;
  const stem = basename(checkpointPath, extname(checkpointPath))
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '');
  return stem || 'sam2-model';
}

/** The mismatch a graph builder found, restated with both files named (the hint is replaced). */
function mismatchError(e: unknown, ckptLabel: string, cfgLabel: string): MedsamError {
  const msg = e instanceof MedsamError && e.hint ? e.message.slice(0, e.message.length - e.hint.length - 3) : errorMessage(e);
  return new MedsamError(
    `checkpoint ${ckptLabel} does not match config ${cfgLabel}: ${msg}`,
    'pass the config the checkpoint was trained with (--config), or the matching checkpoint',
  );
}

/** Import a SAM2 / MedSAM2 checkpoint into the user model registry (see the file comment). */
export async function importSam2Model(checkpointPath: string, opts: ImportModelOptions = {}): Promise<ImportModelResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.warn?.(m);
  };
  const ckptLabel = checkpointPath;
  const { abs: ckptAbs, size } = checkCheckpointFile(checkpointPath);
  // Cheap argument checks come before hashing a large file.
  const given = opts.config !== undefined ? configFromArg(opts.config) : undefined;
  if (opts.id !== undefined && !ID_RE.test(opts.id)) {
    throw new MedsamError(`--id ${JSON.stringify(opts.id)} is not a valid model id`, "use letters, digits, '.', '_' or '-'");
  }

  log(`hashing ${ckptLabel} (${(size / 1e6).toFixed(1)} MB)`);
  // Hashed through the graph cache's checksum index, so compiling below does not hash it again.
  const sha256 = await checkpointSha256(ckptAbs, getPlatform().blobCache(opts.cacheDir));
  let zoo = identifyCheckpoint(sha256, size);
  let zooMatch: ImportModelResult['zooMatch'] = zoo ? 'sha256' : 'none';
  const byName = findZooEntry(ckptAbs);
  if (!zoo && byName) {
    if (byName.sha256 === null) {
      // The zoo has no published checksum for this file: the name is all there is to go on.
      zoo = byName;
      zooMatch = 'file-name';
      warn(
        `checkpoint ${basename(ckptAbs)} is taken to be the zoo's ${byName.id} by its file name (no published sha256 to check it against)`,
      );
    } else {
      warn(
        `checkpoint ${basename(ckptAbs)} has the file name of the zoo's ${byName.id} but a different sha256 (${sha256.slice(0, 12)}…): treated as an unknown checkpoint`,
      );
    }
  }

  let config: ConfigChoice;
  if (given) {
    config = given;
    if (zoo && config.source !== `builtin:${zoo.configId}`) {
      warn(`checkpoint is the zoo's ${zoo.id} (config ${zoo.configId}); using --config ${config.label} instead`);
    } else if (!zoo) {
      warn(`unknown checkpoint sha256 ${sha256} (${basename(ckptAbs)}); using config ${config.label}`);
    }
  } else if (zoo) {
    config = builtinConfig(zoo.configId);
  } else {
    // Say "corrupt" rather than "unknown" when the file is not a readable checkpoint at all.
    await loadCheckpoint(ckptAbs);
    throw new MedsamError(
      `unknown checkpoint sha256 ${sha256} (${basename(ckptAbs)}): it is not an official MedSAM2/SAM2.1 file, so its architecture is unknown`,
      `pass --config <model.yaml | ${BUILTIN_CONFIG_IDS.join(' | ')}>`,
    );
  }
  let configs: Sam2ModelConfigs;
  try {
    configs = sam2ConfigsFromYaml(config.yaml);
  } catch (e) {
    throw new MedsamError(`config ${config.label} is not a usable SAM2 model config: ${errorMessage(e)}`);
  }

  const id = opts.id ?? defaultId(zoo, ckptAbs);
  if (!ID_RE.test(id))
    throw new MedsamError(`model id ${JSON.stringify(id)} is not valid`, "pass --id with letters, digits, '.', '_' or '-'");
  const modelDir = resolve(opts.modelDir ?? userModelDir());
  const existing = loadUserModels(modelDir).find((e) => e.id === id);
  if (existing && !opts.force) {
    throw new MedsamError(
      `a model with id '${id}' is already registered (${existing.origin})`,
      'pass --force to replace it, or --id <other name>',
    );
  }
  const clash = listModels().find((e) => e.origin === 'builtin' && (e.id === id || e.aliases?.includes(id)));
  if (clash) throw new MedsamError(`model id '${id}' is taken by the built-in model ${clash.id}`, 'pass --id <other name>');

  log(`compiling SAM2 graphs (config ${config.label})`);
  let loaded;
  try {
    loaded = await loadSam2Compiled({ checkpointPath: ckptAbs, configYaml: config.yaml }, { cacheDir: opts.cacheDir, log });
  } catch (e) {
    // Shape/missing-key errors of the graph builders mean the config does not fit the checkpoint.
    if (e instanceof MedsamError && /config expects|has no tensor/.test(e.message)) throw mismatchError(e, ckptLabel, config.label);
    throw e;
  }
  const { model } = loaded;
  if (model.checkpointSha256 !== sha256) {
    throw new MedsamError(`checkpoint ${ckptLabel} changed while it was being imported`, 'run the import again');
  }
  if (model.unusedKeys.length) {
    const shown = model.unusedKeys.slice(0, 8).join(', ') + (model.unusedKeys.length > 8 ? `, … (${model.unusedKeys.length} in all)` : '');
    throw new MedsamError(
      `checkpoint ${ckptLabel} has ${model.unusedKeys.length} tensor(s) that config ${config.label} does not use: ${shown}`,
      'the config describes a smaller architecture than the checkpoint; pass the config it was trained with',
    );
  }
  let graphBytes = 0;
  for (const g of Object.values(model.graphs)) graphBytes += g?.byteLength ?? 0;

  const imageSize = configs.predictor.imageSize;
  const configFile = `${id}.yaml`;
  const entry: ImportedSam2Entry = {
    id,
    family: 'sam2',
    files: { checkpoint: ckptAbs, config: configFile },
    inputSize: imageSize,
    normalisation: SAM2_NORMALISATION,
    licence: zoo ? `${zoo.licence} (weights); ${zoo.codeLicence} (code)` : 'unknown',
    provenance: zoo ? `${zoo.provenance}; ${zoo.url}` : 'unknown',
    description: zoo ? zoo.description : `SAM2 checkpoint ${basename(ckptAbs)} (unknown weights, ${imageSize} px, config ${config.label})`,
    sha256,
    checkpointBytes: size,
    configSource: config.source,
    ...(zoo ? { zooId: zoo.id } : {}),
    builderVersion: BUILDER_VERSION,
    importedAt: new Date().toISOString(),
  };
  const registryPath = existing?.origin?.endsWith('.json') ? existing.origin : join(modelDir, `${id}.json`);
  try {
    mkdirSync(modelDir, { recursive: true });
  } catch (e) {
    throw new MedsamError(`cannot create the model folder ${modelDir}: ${errorMessage(e)}`, 'set MEDSAM2_HOME to a writable folder');
  }
  const yamlPath = join(modelDir, configFile);
  // The JSON is the commit point: written last, so a failure leaves no entry that points nowhere.
  writeFileAtomic(yamlPath, new TextEncoder().encode(config.yaml));
  try {
    writeFileAtomic(registryPath, new TextEncoder().encode(JSON.stringify(entry, null, 2) + '\n'));
  } catch (e) {
    if (!existing) rmSync(yamlPath, { force: true });
    throw e;
  }
  // Read back through the registry so a bad entry fails here, not at the first segmentation.
  const back = loadUserModels(modelDir).find((e) => e.id === id);
  if (!back) throw new MedsamError(`internal: the entry written to ${registryPath} is not listed`, 'this is a bug; please report it');
  return {
    entry: { ...entry, files: { checkpoint: ckptAbs, config: yamlPath } },
    registryPath,
    zoo,
    zooMatch,
    fromCache: loaded.fromCache,
    graphDir: loaded.dir,
    graphBytes,
    warnings,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The checkpoint and config files of a registered SAM2 model, checked to exist. */
export function sam2ModelFiles(entry: ModelEntry): { checkpoint: string; config: string } {
  if (entry.family !== 'sam2')
    throw new MedsamError(`model '${entry.id}' is a ${entry.family} model, not SAM2`, 'pick a SAM2 model id from `medsam2 models list`');
  const { checkpoint, config } = entry.files;
  if (!checkpoint || !config) {
    throw new MedsamError(
      `model '${entry.id}' (${entry.origin ?? 'registry'}) has no files.checkpoint / files.config`,
      're-import it with `medsam2 models import`',
    );
  }
  for (const [role, p] of [
    ['checkpoint', checkpoint],
    ['config', config],
  ] as const) {
    if (!existsSync(p))
      throw new MedsamError(
        `model '${entry.id}' ${role} file ${p} is missing`,
        'restore the file or re-import the model with `medsam2 models import`',
      );
  }
  return { checkpoint, config };
}
