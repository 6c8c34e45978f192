import type { Env, InferenceSession, Tensor } from 'onnxruntime-common';
import { MedsamError } from '../common/errors.js';

/**
 * The platform seam: everything the segmentation core needs from its host (files, hashing,
 * decompression, a blob cache, ONNX Runtime, core count) behind one small interface, so the core
 * compiles without Node types and runs unchanged in Node (`./node.ts`) and in a browser
 * (`./web.ts`). The host picks its platform once, explicitly, with `setPlatform()`: the Node entry
 * (`src/index.ts`, the CLI) and the web entry (`src/web.ts`) do it.
 */

/** The ONNX Runtime module (onnxruntime-node or onnxruntime-web), typed by onnxruntime-common. */
export interface OrtRuntime {
  InferenceSession: typeof InferenceSession;
  Tensor: typeof Tensor;
  env: Env;
}

/** What is known about a named resource without reading it. */
export interface ResourceInfo {
  /** A stable identity for caches (an absolute path on Node, the URL or registered name on the web). */
  id: string;
  /** Bytes, when the platform can tell without reading. */
  size?: number;
  /** Last modification time (ms since epoch), when known: lets a cache skip re-hashing an unchanged file. */
  mtimeMs?: number;
  isFolder?: boolean;
}

/**
 * Bytes by key (keys are `/`-separated relative names such as `sam2/<key>/manifest.json`). Puts are
 * atomic: a reader sees the old bytes or the new ones, never a part.
 */
export interface BlobCache {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Where a key (or a key prefix) lives, for messages: a folder on Node, `indexeddb:<db>/<key>` on the web. */
  location(key: string): string;
}

/** Model entries the host provides beyond the built-ins (the core registry validates each). */
export interface ModelCatalog {
  /** Raw entries, e.g. the `*.json` files of the user model folder on Node. */
  entries(): unknown[];
  /** Where users add models, for messages (a folder on Node). */
  where(): string;
}

export interface Platform {
  readonly name: string;
  readonly ort: OrtRuntime;
  /** Logical cores: the default intra-op thread count. */
  hardwareConcurrency(): number;
  /** SHA-256 of bytes (or of a string's UTF-8), lowercase hex. */
  sha256(data: Uint8Array | string): Promise<string>;
  /** gzip (or zlib, RFC 1950) decompression, refusing to produce more than `maxBytes` (default: unlimited). */
  gunzip(bytes: Uint8Array, maxBytes?: number): Promise<Uint8Array>;
  /** Facts about a named resource (a file path on Node; a URL or a registered File on the web); undefined when it does not exist. */
  resourceInfo(name: string): Promise<ResourceInfo | undefined>;
  /** SHA-256 of a named resource, lowercase hex (Node streams the file; the web reads it whole). */
  resourceSha256(name: string, what?: string): Promise<string>;
  /** A named resource's bytes; `what` names it in errors ("checkpoint", "model config"). */
  readResource(name: string, what?: string): Promise<Uint8Array>;
  /** What to hand `ort.InferenceSession.create` for a named model: Node the path (ORT reads it natively, no JS copy), the web its bytes (a user's File cannot be fetched). */
  ortModel(name: string): Promise<string | Uint8Array>;
  /** Resolves a file shipped inside an installed package (built-in model weights) to a resource name. */
  packageResource(pkg: string, relPath: string): string;
  /** The graph/blob cache; `root` picks another cache (a folder on Node, a database name on the web). */
  blobCache(root?: string): BlobCache;
  readonly models: ModelCatalog;
}

let current: Platform | undefined;

/** Chooses the platform for this process/page. Called once by an entry point (Node: src/index.ts; web: src/web.ts). */
export function setPlatform(p: Platform): void {
  current = p;
}

export function getPlatform(): Platform {
  if (!current) {
    throw new MedsamError(
      'no medsam2.js platform has been set (file access, hashing and ONNX Runtime come from it)',
      "import the package entry ('medsam2.js' in Node, 'medsam2.js/web' in a browser), or call setPlatform(nodePlatform) from src/platform/node.ts",
    );
  }
  return current;
}

/** The one SHA-256 helper: lowercase hex through the platform (node:crypto or WebCrypto). */
export function sha256Hex(data: Uint8Array | string): Promise<string> {
  return getPlatform().sha256(data);
}
