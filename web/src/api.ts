/**
 * The `medsam2 serve` HTTP API as the app uses it (see /openapi.json). Every failure becomes an
 * ApiError carrying the server's one-line `error` and its `fix`, or a plain statement that the
 * server cannot be reached, so the UI can show something a person can act on.
 */

export interface Rle {
  size: [number, number];
  counts: number[];
}

export interface UploadView {
  id: string;
  sha256: string;
  name: string;
  format: string;
  bytes: number;
  dims: [number, number, number];
  spacing: [number, number, number];
  modality?: string | null;
}

export interface ObjectView {
  objId: number;
  /** The name an annotator gave it on the server (absent: none). */
  name?: string;
  /** The axis its keys are slices of (the view it was started on). */
  axis?: number;
  keys: number[];
  slices: number[];
}

export interface SessionView {
  id: string;
  uploadId: string;
  model: string;
  axis: number;
  window: string | null;
  status: 'open' | 'closed';
  numSlices: number;
  rows: number;
  cols: number;
  interactions: number;
  /** Undone interactions that redo would bring back. */
  redoable?: number;
  propagating: boolean;
  objects: ObjectView[];
}

export interface PromptBody {
  objId: number;
  slice: number;
  /** The axis `slice` is cut along (the view drawn on: 2 axial, 1 coronal, 0 sagittal). */
  axis?: number;
  box?: [number, number, number, number];
  points?: { x: number; y: number; label: 0 | 1 }[];
  recist?: [number, number, number, number];
  mask?: Rle;
  replace?: boolean;
  correction?: boolean;
}

export interface SliceMask {
  objId: number;
  slice: number;
  /** What `slice` counts along; absent = the session's axis. */
  axis?: number;
  area?: number;
  mask: Rle;
}

export interface PropagateEvents {
  onProgress?(done: number, total: number, objId: number): void;
  onMask?(m: SliceMask): void;
}

export type PropagateOutcome = { kind: 'done'; summary: unknown } | { kind: 'cancelled'; message: string };

export class ApiError extends Error {
  constructor(
    message: string,
    readonly fix: string | undefined,
    readonly status: number,
  ) {
    super(message);
  }
}

export class Api {
  constructor(
    private readonly base = '',
    private token: () => string | undefined = () => undefined,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const t = this.token();
    return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
  }

  protected async send(method: string, path: string, body?: BodyInit, type?: string, accept?: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        body,
        headers: this.headers({ ...(type ? { 'content-type': type } : {}), ...(accept ? { accept } : {}) }),
      });
    } catch {
      throw new ApiError('the medsam2 server cannot be reached', 'check that `medsam2 serve` is still running, then retry', 0);
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }

  protected async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? undefined : 'application/json',
    );
    return (await res.json()) as T;
  }

  upload(file: Blob, name: string): Promise<UploadView> {
    return this.send('POST', `/uploads?name=${encodeURIComponent(name)}`, file, 'application/octet-stream').then(
      (r) => r.json() as Promise<UploadView>,
    );
  }

  /**
   * `upload` with the bytes sent reported and a cancel: XMLHttpRequest, since fetch reports no
   * upload progress. An abort rejects with the signal's AbortError.
   */
  uploadWithProgress(
    file: Blob,
    name: string,
    work: { onProgress?(sent: number, total: number): void; signal?: AbortSignal },
  ): Promise<UploadView> {
    return new Promise((resolve, reject) => {
      const signal = work.signal;
      if (signal?.aborted) return reject(signal.reason);
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${this.base}/uploads?name=${encodeURIComponent(name)}`);
      for (const [k, v] of Object.entries(this.headers({ 'content-type': 'application/octet-stream' }))) xhr.setRequestHeader(k, v);
      xhr.responseType = 'arraybuffer';
      xhr.upload.onprogress = (e) => work.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
      const onAbort = () => xhr.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      xhr.onabort = () => reject(signal?.reason ?? new DOMException('the upload was cancelled', 'AbortError'));
      xhr.onerror = () =>
        reject(new ApiError('the medsam2 server cannot be reached', 'check that `medsam2 serve` is still running, then retry', 0));
      xhr.onload = () => {
        signal?.removeEventListener('abort', onAbort);
        const res = new Response(xhr.response as ArrayBuffer, {
          status: xhr.status,
          statusText: xhr.statusText,
          headers: { 'content-type': xhr.getResponseHeader('content-type') ?? '' },
        });
        if (!res.ok) void errorFrom(res).then(reject);
        else void (res.json() as Promise<UploadView>).then(resolve, reject);
      };
      xhr.send(file);
    });
  }

  /** The upload as the server read it, a .nii.gz for display (DICOM, PNG, JPEG: GET /uploads/{id}/volume.nii.gz). */
  async displayVolume(uploadId: string): Promise<Uint8Array> {
    const res = await this.send('GET', `/uploads/${encodeURIComponent(uploadId)}/volume.nii.gz`);
    return new Uint8Array(await res.arrayBuffer());
  }

  createSession(uploadId: string, window?: string): Promise<SessionView> {
    return this.json('POST', '/sessions', { uploadId, ...(window && window !== 'auto' ? { window } : {}) });
  }

  session(id: string): Promise<SessionView> {
    return this.json('GET', `/sessions/${encodeURIComponent(id)}`);
  }

  prompt(sessionId: string, body: PromptBody): Promise<SliceMask> {
    return this.json('POST', `/sessions/${encodeURIComponent(sessionId)}/prompts`, body);
  }

  undo(sessionId: string): Promise<{ undone: boolean }> {
    return this.json('POST', `/sessions/${encodeURIComponent(sessionId)}/undo`);
  }

  redo(sessionId: string): Promise<{ redone: boolean }> {
    return this.json('POST', `/sessions/${encodeURIComponent(sessionId)}/redo`);
  }

  /** A literal brush / eraser edit on a slice; returns the slice's mask as stored. */
  edit(
    sessionId: string,
    body: {
      objId: number;
      slice: number;
      axis?: number;
      stroke: { points: { x: number; y: number }[]; radius: number; mode: 'paint' | 'erase' };
    },
  ): Promise<SliceMask> {
    return this.json('POST', `/sessions/${encodeURIComponent(sessionId)}/edits`, body);
  }

  cancel(sessionId: string): Promise<{ cancelled: boolean }> {
    return this.json('POST', `/sessions/${encodeURIComponent(sessionId)}/cancel`);
  }

  removeObject(sessionId: string, objId: number): Promise<SessionView> {
    return this.json('DELETE', `/sessions/${encodeURIComponent(sessionId)}/objects/${objId}`);
  }

  /** Names an object on the server (1-64 printable characters): reloads and exports carry it. */
  renameObject(sessionId: string, objId: number, name: string): Promise<SessionView> {
    return this.json('PATCH', `/sessions/${encodeURIComponent(sessionId)}/objects/${objId}`, { name });
  }

  sliceMasks(
    sessionId: string,
    slice: number,
  ): Promise<{ slice: number; rows: number; cols: number; objects: { objId: number; area: number; mask: Rle }[] }> {
    return this.json('GET', `/sessions/${encodeURIComponent(sessionId)}/slices/${slice}`);
  }

  async labelMap(sessionId: string, format: 'nii.gz' | 'nrrd' | 'npz' | 'seg.dcm'): Promise<Blob> {
    const res = await this.send('GET', `/sessions/${encodeURIComponent(sessionId)}/labelmap?format=${encodeURIComponent(format)}`);
    return res.blob();
  }

  /** Propagates with server-sent events over a POST (EventSource cannot POST). */
  async propagate(sessionId: string, body: { objIds?: number[] }, ev: PropagateEvents): Promise<PropagateOutcome> {
    const res = await this.send(
      'POST',
      `/sessions/${encodeURIComponent(sessionId)}/propagate`,
      JSON.stringify(body),
      'application/json',
      'text/event-stream',
    );
    if (!res.body)
      throw new ApiError('the server sent no progress stream', 'retry; if it persists, the server or a proxy is buffering responses', 0);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch {
        throw new ApiError(
          'the connection to the server was lost during propagation',
          'check that `medsam2 serve` is running, then propagate again',
          0,
        );
      }
      if (chunk.done) break;
      buf += chunk.value;
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as Record<string, unknown>;
        if (event === 'progress') ev.onProgress?.(data.done as number, data.total as number, data.objId as number);
        else if (event === 'mask') ev.onMask?.(data as unknown as SliceMask);
        else if (event === 'done') return { kind: 'done', summary: data };
        else if (event === 'cancelled') return { kind: 'cancelled', message: String(data.error) };
        else if (event === 'error') throw new ApiError(String(data.error), data.fix as string | undefined, 500);
      }
    }
    throw new ApiError('the propagation stream ended without a result', 'propagate again', 0);
  }
}

async function errorFrom(res: Response): Promise<ApiError> {
  try {
    const b = (await res.json()) as { error?: string; fix?: string };
    if (typeof b.error === 'string' && res.status === 401)
      return new ApiError(b.error, 'get a token with `medsam2 users add NAME --role annotator` and enter it with the Token… button', 401);
    if (typeof b.error === 'string') return new ApiError(b.error, b.fix, res.status);
  } catch {
    /* not JSON: fall through */
  }
  if (res.status === 401)
    return new ApiError(
      'the server wants a valid access token',
      'paste a token from `medsam2 users add NAME --role annotator` with the Token… button',
      401,
    );
  return new ApiError(`the server answered ${res.status} ${res.statusText}`, 'retry; see the server log if it persists', res.status);
}
