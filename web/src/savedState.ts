/**
 * What survives a reload: the session id, object names and the view (layout, window, crosshair, opacity)
 * in localStorage, and the bytes the viewer drew in IndexedDB, so a reload draws the scan without
 * downloading it again (the server keeps masks and prompts; a server-drawn scan — DICOM, PNG,
 * JPEG — is kept as the display NIfTI the server sent).
 */

export interface SavedObject {
  objId: number;
  name: string;
  hidden: boolean;
}

/** The view as it was: a reload shows the same plane, window and slice. */
export interface SavedView {
  /** The View list's value (multi, axial, coronal, sagittal, render). */
  layout: string;
  /** The Window list's value: auto, a preset or custom. */
  window: string;
  /** The last custom window (a Navigate drag), shown when `window` is custom. */
  custom?: { width: number; level: number };
  /** The crosshair's voxel position (column, row, slice; fractional, as NiiVue holds it). */
  voxel: number[];
  /** The masks' opacity (the Opacity slider). */
  opacity?: number;
}

export interface SavedState {
  sessionId: string;
  fileName: string;
  /** The upload's header fields, for the side panel. */
  upload: { format: string; dims: number[]; spacing: number[]; modality?: string | null; bytes: number };
  objects: SavedObject[];
  activeObj: number;
  /** Absent in state saved before views were kept. */
  view?: SavedView;
}

const KEY = 'medsam2.state';
const DB = 'medsam2';

export function loadState(): SavedState | undefined {
  try {
    const s = localStorage.getItem(KEY);
    return s ? (JSON.parse(s) as SavedState) : undefined;
  } catch {
    return undefined;
  }
}

export function saveState(s: SavedState | undefined): void {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('files');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB is unavailable'));
  });
}

export async function saveFile(bytes: Uint8Array): Promise<void> {
  const db = await openDb();
  await new Promise<void>((resolve, reject) => {
    const t = db.transaction('files', 'readwrite');
    t.objectStore('files').put(bytes, 'current');
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error ?? new Error('cannot store the file'));
  });
  db.close();
}

export async function loadFile(): Promise<Uint8Array | undefined> {
  const db = await openDb();
  const out = await new Promise<Uint8Array | undefined>((resolve, reject) => {
    const r = db.transaction('files').objectStore('files').get('current');
    r.onsuccess = () => resolve(r.result as Uint8Array | undefined);
    r.onerror = () => reject(r.error ?? new Error('cannot read the stored file'));
  });
  db.close();
  return out;
}
