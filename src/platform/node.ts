import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, inflate as inflateCb } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { MedsamError, errorMessage } from '../common/errors.js';
import { diskBlobCache } from './nodeBlobCache.js';
import { readModelEntryFiles, userModelDir } from './nodeModelFolder.js';
import type { Platform, ResourceInfo } from './platform.js';

/**
 * The Node platform: node:fs for resources (file paths), node:crypto, node:zlib, onnxruntime-node,
 * a folder per graph-cache key, and the `*.json` model folder. Chosen by src/index.ts and the CLI.
 */

const gunzipAsync = promisify(gunzipCb);
const inflateAsync = promisify(inflateCb);

/** The graph cache root: $MEDSAM2_CACHE_DIR, else $XDG_CACHE_HOME/medsam2, else ~/.cache/medsam2. */
export function defaultCacheDir(): string {
  if (process.env.MEDSAM2_CACHE_DIR) return resolve(process.env.MEDSAM2_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg ? resolve(xdg) : join(homedir(), '.cache'), 'medsam2');
}

async function resourceInfo(name: string): Promise<ResourceInfo | undefined> {
  const id = resolve(name);
  try {
    const st = await stat(id);
    return { id, size: st.size, mtimeMs: st.mtimeMs, isFolder: st.isDirectory() };
  } catch {
    return undefined;
  }
}

async function readResource(name: string, what = 'file'): Promise<Uint8Array> {
  const info = await resourceInfo(name);
  if (!info) throw new MedsamError(`${what} ${name} does not exist`, 'check the path');
  if (info.isFolder) throw new MedsamError(`${what} ${name} is a folder, not a file`, 'pass a file path');
  if (info.size === 0) throw new MedsamError(`${what} ${name} is empty (0 bytes)`, 're-export or re-download the file');
  try {
    const b = await readFile(info.id);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new MedsamError(`cannot read ${what} ${name}: ${errorMessage(e)}`, 'check the file permissions');
  }
}

async function resourceSha256(name: string, what = 'file'): Promise<string> {
  const info = await resourceInfo(name);
  if (!info || info.isFolder) throw new MedsamError(`${what} ${name} does not exist`, 'check the path');
  const h = createHash('sha256');
  try {
    await new Promise<void>((res, rej) => {
      createReadStream(info.id)
        .on('data', (d) => h.update(d))
        .on('end', () => res())
        .on('error', rej);
    });
  } catch (e) {
    throw new MedsamError(`cannot read ${what} ${name}: ${errorMessage(e)}`, 'check the file permissions');
  }
  return h.digest('hex');
}

export const nodePlatform: Platform = {
  name: 'node',
  ort,
  hardwareConcurrency: () => availableParallelism(),
  async sha256(data) {
    return createHash('sha256').update(data).digest('hex');
  },
  async gunzip(bytes, maxBytes) {
    const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
    const opts = maxBytes !== undefined ? { maxOutputLength: Math.max(1, maxBytes) } : {};
    try {
      const out = await (isGzip ? gunzipAsync(bytes, opts) : inflateAsync(bytes, opts));
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new MedsamError(
          `compressed data inflates to more than ${maxBytes} bytes`,
          'the file is corrupt or a decompression bomb; re-export it',
        );
      }
      throw new MedsamError(`compressed data is corrupt (${errorMessage(e)})`, 're-export or re-download the file');
    }
  },
  resourceInfo,
  resourceSha256,
  readResource,
  ortModel: async (name) => resolve(name),
  packageResource(pkg, relPath) {
    const req = createRequire(import.meta.url);
    let pkgJson: string;
    try {
      pkgJson = req.resolve(`${pkg}/package.json`);
    } catch {
      throw new MedsamError(
        `npm package '${pkg}' is not installed, so its model files cannot be found`,
        'run npm install (it is a dependency of medsam2.js)',
      );
    }
    return join(dirname(pkgJson), relPath);
  },
  blobCache: (root) => diskBlobCache(root ?? defaultCacheDir()),
  models: {
    entries: () => readModelEntryFiles(userModelDir()),
    where: () => userModelDir(),
  },
};
