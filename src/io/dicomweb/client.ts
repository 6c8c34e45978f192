/**
 * A small DICOMweb client (PS3.18) on the global `fetch` (Node 20 and browsers): QIDO-RS to find
 * studies/series/instances, WADO-RS to retrieve a series as Part-10 instances, STOW-RS to store
 * instances (our SEG/RTSTRUCT). Responses are size-capped while streaming.
 */
import { MedsamError, errorMessage } from '../../common/errors.js';
import type { DicomInput } from '../dicom/series.js';
import { boundaryOf, buildMultipart, splitMultipart } from './multipart.js';

export interface DicomwebOptions {
  /** Extra headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Largest response accepted, bytes (default 4 GiB). */
  maxBytes?: number;
  /** Per-request timeout, ms (default 120 s). */
  timeoutMs?: number;
}

/** A DICOM JSON dataset (PS3.18 F.2): tag → { vr, Value }. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

export interface DicomwebTarget {
  /** Service root, e.g. http://127.0.0.1:8042/dicom-web */
  base: string;
  study?: string;
  series?: string;
}

/** `dicomweb://host:port/root/studies/S[/series/X]` (https: `dicomwebs://`), or an http(s) URL of the same shape. */
export function parseDicomwebUrl(url: string): DicomwebTarget {
  const m = /^(dicomwebs?|https?):\/\/([^/]+)(\/.*?)?(?:\/studies\/([^/]+)(?:\/series\/([^/]+))?)?\/?$/.exec(url.trim());
  if (!m) throw new MedsamError(`${url} is not a DICOMweb URL`, 'use dicomweb://host:port/dicom-web/studies/<StudyUID>/series/<SeriesUID>');
  const scheme = m[1] === 'dicomwebs' || m[1] === 'https' ? 'https' : 'http';
  return { base: `${scheme}://${m[2]}${m[3] ?? ''}`, study: m[4] && decodeURIComponent(m[4]), series: m[5] && decodeURIComponent(m[5]) };
}

export function isDicomwebUrl(s: string): boolean {
  return /^dicomwebs?:\/\//i.test(s);
}

async function request(
  url: string,
  init: RequestInit,
  opts: DicomwebOptions,
  what: string,
): Promise<{ bytes: Uint8Array; contentType: string; status: number }> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), opts.timeoutMs ?? 120_000);
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...opts.headers }, signal: ctrl.signal });
  } catch (e) {
    clearTimeout(timer);
    throw new MedsamError(
      `DICOMweb ${what} ${url} failed: ${errorMessage(e)}${(e as { cause?: unknown }).cause ? ` (${errorMessage((e as { cause: unknown }).cause)})` : ''}`,
      'check that the server is running and the URL is right',
    );
  }
  try {
    const max = opts.maxBytes ?? 4 * 2 ** 30;
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > max) {
          await reader.cancel();
          throw new MedsamError(
            `DICOMweb ${what} ${url}: response exceeds ${max} bytes`,
            'raise the size limit or retrieve a smaller series',
          );
        }
        chunks.push(value);
      }
    }
    const bytes = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    if (!res.ok) {
      const text = new TextDecoder().decode(bytes.subarray(0, 300)).replace(/\s+/g, ' ').trim();
      throw new MedsamError(
        `DICOMweb ${what} ${url} answered HTTP ${res.status}${text ? `: ${text}` : ''}`,
        res.status === 404 ? 'check the study/series UIDs' : 'check the server log',
      );
    }
    return { bytes, contentType: res.headers.get('content-type') ?? '', status: res.status };
  } finally {
    clearTimeout(timer);
  }
}

function qs(query: Record<string, string | number | undefined>): string {
  const p = Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return p.length ? `?${p.join('&')}` : '';
}

async function qido(url: string, opts: DicomwebOptions): Promise<DicomJson[]> {
  const r = await request(url, { headers: { Accept: 'application/dicom+json' } }, opts, 'QIDO-RS');
  if (r.bytes.length === 0 || r.status === 204) return [];
  try {
    return JSON.parse(new TextDecoder().decode(r.bytes)) as DicomJson[];
  } catch (e) {
    throw new MedsamError(`DICOMweb QIDO-RS ${url} returned invalid JSON (${errorMessage(e)})`, 'is this a DICOMweb endpoint?');
  }
}

/** QIDO-RS: studies matching `query` (e.g. { PatientID: 'X' }). */
export function searchStudies(
  base: string,
  query: Record<string, string | number | undefined> = {},
  opts: DicomwebOptions = {},
): Promise<DicomJson[]> {
  return qido(`${base}/studies${qs(query)}`, opts);
}

/** QIDO-RS: series of a study (or of all studies) matching `query` (e.g. { Modality: 'SEG' }). */
export function searchSeries(
  base: string,
  study?: string,
  query: Record<string, string | number | undefined> = {},
  opts: DicomwebOptions = {},
): Promise<DicomJson[]> {
  return qido(`${base}${study ? `/studies/${encodeURIComponent(study)}` : ''}/series${qs(query)}`, opts);
}

/** QIDO-RS: instances of one series. */
export function searchInstances(base: string, study: string, series: string, opts: DicomwebOptions = {}): Promise<DicomJson[]> {
  return qido(`${base}/studies/${encodeURIComponent(study)}/series/${encodeURIComponent(series)}/instances`, opts);
}

/** First value of a tag ('0020000E') in a DICOM JSON dataset. */
export function jsonValue(ds: DicomJson, tag: string): string | undefined {
  const v = ds[tag.toUpperCase()]?.Value?.[0];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && 'Alphabetic' in (v as object)) return String((v as { Alphabetic: unknown }).Alphabetic);
  return String(v);
}

/** WADO-RS: every instance of a series as Part-10 bytes, in the server's transfer syntax when it allows. */
export async function retrieveSeries(base: string, study: string, series: string, opts: DicomwebOptions = {}): Promise<DicomInput[]> {
  const url = `${base}/studies/${encodeURIComponent(study)}/series/${encodeURIComponent(series)}`;
  let r;
  try {
    r = await request(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } }, opts, 'WADO-RS');
  } catch (e) {
    // Servers that cannot send "as stored" (406/400) get the default (explicit VR little endian) request.
    if (!(e instanceof MedsamError) || !/HTTP (406|400)/.test(e.message)) throw e;
    r = await request(url, { headers: { Accept: 'multipart/related; type="application/dicom"' } }, opts, 'WADO-RS');
  }
  const boundary = boundaryOf(r.contentType);
  if (!boundary)
    throw new MedsamError(
      `DICOMweb WADO-RS ${url} did not answer multipart/related (Content-Type: ${r.contentType || 'none'})`,
      'is this a DICOMweb endpoint?',
    );
  const parts = splitMultipart(r.bytes, boundary);
  if (parts.length === 0) throw new MedsamError(`DICOMweb WADO-RS ${url} returned no instances`, 'check the study/series UIDs');
  return parts.map((bytes, i) => ({ name: `${url} [${i + 1}/${parts.length}]`, bytes }));
}

/** STOW-RS: store Part-10 instances (into `study` when given). Returns the server's response dataset. */
export async function storeInstances(
  base: string,
  instances: Uint8Array[],
  study?: string,
  opts: DicomwebOptions = {},
): Promise<DicomJson> {
  const { body, contentType } = buildMultipart(instances);
  const url = `${base}/studies${study ? `/${encodeURIComponent(study)}` : ''}`;
  const r = await request(
    url,
    { method: 'POST', body, headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' } },
    opts,
    'STOW-RS',
  );
  const text = new TextDecoder().decode(r.bytes);
  const res = (text.trim() ? JSON.parse(text) : {}) as DicomJson;
  // 00081198 FailedSOPSequence: the server refused some instances.
  const failed = res['00081198']?.Value?.length ?? 0;
  if (failed > 0)
    throw new MedsamError(
      `DICOMweb STOW-RS ${url}: the server refused ${failed} of ${instances.length} instance(s)`,
      'check the server log',
    );
  return res;
}

/** One series found by QIDO-RS, with the `dicomweb://` URL that `segment` and projects accept. */
export interface SeriesRef {
  studyUid: string;
  seriesUid: string;
  modality?: string;
  description?: string;
  instances?: number;
  url: string;
}

/**
 * Image series matching a query across the server (e.g. { PatientID: 'X', Modality: 'CT' }), as
 * ready-to-open references: how projects turn a DICOMweb query into cases.
 */
export async function findSeries(
  base: string,
  query: Record<string, string | number | undefined> = {},
  opts: DicomwebOptions = {},
): Promise<SeriesRef[]> {
  const found = await searchSeries(base, undefined, { ...query, includefield: '00201209' }, opts);
  const scheme = base.startsWith('https:') ? 'dicomwebs' : 'dicomweb';
  const root = base.replace(/^https?:/, `${scheme}:`);
  return found.flatMap((s) => {
    const studyUid = jsonValue(s, '0020000D');
    const seriesUid = jsonValue(s, '0020000E');
    if (!studyUid || !seriesUid) return [];
    const n = jsonValue(s, '00201209');
    return [
      {
        studyUid,
        seriesUid,
        modality: jsonValue(s, '00080060'),
        description: jsonValue(s, '0008103E'),
        instances: n !== undefined ? Number(n) : undefined,
        url: `${root}/studies/${studyUid}/series/${seriesUid}`,
      },
    ];
  });
}
