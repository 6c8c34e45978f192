import type { BlobCache } from './platform.js';

/**
 * The browser blob cache: one IndexedDB object store (`blobs`) in database `db`, keyed by the
 * cache key. IndexedDB transactions are atomic, so a put is all-or-nothing. Where IndexedDB is
 * missing (a worker without it, a test VM) the cache lives in memory for the page's lifetime.
 */
/*
 * The IndexedDB subset used here, typed structurally so this file also compiles in the Node
 * configuration (lib without DOM) that type-checks the tests importing it.
 */
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbStore {
  get(key: string): IdbRequest<unknown>;
  put(value: unknown, key: string): IdbRequest<unknown>;
}
interface IdbTransaction {
  objectStore(name: string): IdbStore;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  transaction(store: string, mode: 'readonly' | 'readwrite'): IdbTransaction;
  createObjectStore(name: string): unknown;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

export function indexedDbBlobCache(db = 'medsam2-cache'): BlobCache {
  const idb = (globalThis as { indexedDB?: IdbFactory }).indexedDB;
  if (!idb) return memoryBlobCache(`memory:${db}`);
  let opened: Promise<IdbDatabase> | undefined;
  const open = (): Promise<IdbDatabase> => {
    opened ??= new Promise((res, rej) => {
      const req = idb.open(db, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('blobs');
      req.onsuccess = () => res(req.result);
      req.onerror = () => rej(req.error);
    });
    return opened;
  };
  const run = async (mode: 'readonly' | 'readwrite', op: (s: IdbStore) => IdbRequest<unknown>): Promise<unknown> => {
    const tx = (await open()).transaction('blobs', mode);
    const req = op(tx.objectStore('blobs'));
    return new Promise<unknown>((res, rej) => {
      tx.oncomplete = () => res(req.result);
      tx.onerror = () => rej(tx.error);
      tx.onabort = () => rej(tx.error);
    });
  };
  return {
    async get(key) {
      const v = await run('readonly', (s) => s.get(key));
      return v instanceof Uint8Array ? v : undefined;
    },
    async put(key, bytes) {
      await run('readwrite', (s) => s.put(bytes.slice(), key));
    },
    location: (key) => `indexeddb:${db}/${key}`,
  };
}

export function memoryBlobCache(label = 'memory:'): BlobCache {
  const m = new Map<string, Uint8Array>();
  return {
    async get(key) {
      return m.get(key);
    },
    async put(key, bytes) {
      m.set(key, bytes.slice());
    },
    location: (key) => `${label}/${key}`,
  };
}
