import { errorMessage, MedsamError } from '../../common/errors.js';
import { storeInstances } from '../../io/dicomweb/client.js';
import type { ServerConfig } from '../config.js';
import { HttpError } from '../httpError.js';

/**
 * The PACS the server sends project SEGs to: the operator's `dicomweb.stowUrl` (serve
 * --stow-url), never a URL from a request. A send that the PACS refuses or that cannot reach it is
 * a 502 naming the PACS and what it said, so the page can show one line; no PACS configured is a
 * 409 saying how to configure one.
 */
export interface PacsTarget {
  /** DICOMweb service root. */
  base: string;
  /** The PACS as shown to people: its root without any user:password part. */
  shown: string;
  headers: Record<string, string>;
}

export function pacsTarget(config: ServerConfig): PacsTarget | undefined {
  const d = config.dicomweb;
  if (!d) return undefined;
  const u = new URL(d.stowUrl);
  const headers: Record<string, string> = {};
  if (d.authorization) headers.Authorization = d.authorization;
  else if (u.username) headers.Authorization = `Basic ${btoa(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`)}`;
  u.username = '';
  u.password = '';
  const base = u.toString().replace(/\/$/, '');
  return { base, shown: base, headers };
}

export function requirePacs(config: ServerConfig): PacsTarget {
  const t = pacsTarget(config);
  if (!t)
    throw new HttpError(
      409,
      'this server has no PACS to send to',
      'whoever runs the server starts it with --stow-url http://pacs:8042/dicom-web (credentials in $MEDSAM2_STOW_AUTHORIZATION)',
    );
  return t;
}

/** STOW-RS of one Part-10 instance into its study; failures as 502 in one line. */
export async function stowToPacs(t: PacsTarget, bytes: Uint8Array, study: string, what: string): Promise<void> {
  try {
    await storeInstances(t.base, [bytes], study, { headers: t.headers, timeoutMs: 60_000, maxBytes: 16 * 2 ** 20 });
  } catch (e) {
    const raw = e instanceof MedsamError ? e.message.slice(0, e.hint ? -(e.hint.length + 3) : undefined) : errorMessage(e);
    // The client's message names the full STOW URL; the PACS is named once, up front.
    const reason = raw.replace(/^DICOMweb STOW-RS \S+?:? (?:failed: |answered )?/, '').replace(/\s+/g, ' ');
    const unreachable = /failed:|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|abort/i.test(raw) && !/answered HTTP/.test(raw);
    throw new HttpError(
      502,
      unreachable ? `PACS at ${t.shown} cannot be reached for ${what}: ${reason}` : `PACS at ${t.shown} refused ${what}: ${reason}`,
      unreachable
        ? 'check that the PACS is running and that the server was started with the right --stow-url'
        : "check the PACS's log and its STOW-RS settings (credentials: $MEDSAM2_STOW_AUTHORIZATION)",
    );
  }
}
