import * as ortWeb from 'onnxruntime-web';
import { MedsamError, errorMessage } from '../common/errors.js';
import type { OrtRuntime, Platform, ResourceInfo } from './platform.js';
import { indexedDbBlobCache } from './webBlobCache.js';

/**
 * The browser platform: resources are Files/Blobs registered by name (a file picker, a drop) or
 * URLs fetched; WebCrypto for SHA-256; DecompressionStream for gzip/zlib; IndexedDB for the graph
 * cache; onnxruntime-web (WebAssembly) unless another runtime is injected. Works in a page and in
 * a Web Worker (no DOM access is needed).
 */
export interface WebPlatformOptions {
  /** The ONNX Runtime to use; default onnxruntime-web. */
  ort?: OrtRuntime;
  /** Where package files (built-in model weights) are served: `${assetBase}/${pkg}/${relPath}`. Default `/node_modules`. */
  assetBase?: string;
  /** Model registry entries this app provides (same shape as the Node model folder's JSON files; `files` are resource names/URLs). */
  models?: unknown[];
  /** IndexedDB database of the default graph cache. */
  cacheDb?: string;
}

export interface WebPlatform extends Platform {
  /** Makes a File/Blob readable as resource `name` (e.g. a checkpoint the user picked). */
  addFile(name: string, blob: Blob): void;
}

async function collect(stream: ReadableStream<Uint8Array>, maxBytes: number | undefined): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (maxBytes !== undefined && n > maxBytes) {
      await reader.cancel();
      throw new MedsamError(
        `compressed data inflates to more than ${maxBytes} bytes`,
        'the file is corrupt or a decompression bomb; re-export it',
      );
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

export function createWebPlatform(opts: WebPlatformOptions = {}): WebPlatform {
  const files = new Map<string, Blob>();
  const assetBase = (opts.assetBase ?? '/node_modules').replace(/\/+$/, '');
  const entries = opts.models ?? [];

  const resourceInfo = async (name: string): Promise<ResourceInfo | undefined> => {
    const f = files.get(name);
    if (f) return { id: name, size: f.size };
    try {
      const r = await fetch(name, { method: 'HEAD' });
      if (!r.ok) return undefined;
      const len = r.headers.get('content-length');
      return { id: r.url || name, ...(len !== null ? { size: Number(len) } : {}) };
    } catch {
      return undefined;
    }
  };

  const readResource = async (name: string, what = 'file'): Promise<Uint8Array> => {
    const f = files.get(name);
    let bytes: Uint8Array;
    if (f) {
      bytes = new Uint8Array(await f.arrayBuffer());
    } else {
      let r: Response;
      try {
        r = await fetch(name);
      } catch (e) {
        throw new MedsamError(`cannot fetch ${what} ${name}: ${errorMessage(e)}`, 'check the URL, or add the file with platform.addFile()');
      }
      if (r.status === 404)
        throw new MedsamError(`${what} ${name} does not exist (HTTP 404)`, 'check the URL, or add the file with platform.addFile()');
      if (!r.ok) throw new MedsamError(`cannot fetch ${what} ${name}: HTTP ${r.status}`, 'check the URL and the server');
      bytes = new Uint8Array(await r.arrayBuffer());
    }
    if (bytes.byteLength === 0) throw new MedsamError(`${what} ${name} is empty (0 bytes)`, 're-export or re-download the file');
    return bytes;
  };

  const sha256 = async (data: Uint8Array | string): Promise<string> => {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  };

  return {
    name: 'web',
    ort: opts.ort ?? (ortWeb as unknown as OrtRuntime),
    hardwareConcurrency: () => (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1,
    sha256,
    async gunzip(bytes, maxBytes) {
      const format = bytes[0] === 0x1f && bytes[1] === 0x8b ? 'gzip' : 'deflate';
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream(format));
      try {
        return await collect(stream as ReadableStream<Uint8Array>, maxBytes);
      } catch (e) {
        if (e instanceof MedsamError) throw e;
        throw new MedsamError(`compressed data is corrupt (${errorMessage(e)})`, 're-export or re-download the file');
      }
    },
    resourceInfo,
    resourceSha256: async (name, what) => sha256(await readResource(name, what)),
    readResource,
    ortModel: (name) => readResource(name, 'model file'),
    packageResource: (pkg, relPath) => `${assetBase}/${pkg}/${relPath}`,
    blobCache: (root) => indexedDbBlobCache(root ?? opts.cacheDb),
    models: { entries: () => entries, where: () => 'the models passed to createWebPlatform({ models })' },
    addFile(name, blob) {
      files.set(name, blob);
    },
  };
}
