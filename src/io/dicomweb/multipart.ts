/**
 * multipart/related bodies as DICOMweb uses them (PS3.18 8.6): build one for STOW-RS, split one
 * from WADO-RS. Byte-level, browser-safe; the few lines do not justify a dependency.
 */

const enc = new TextEncoder();

/** Boundary from a Content-Type header value (quoted or not). */
export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

export function buildMultipart(parts: Uint8Array[], type = 'application/dicom'): { body: Uint8Array; contentType: string } {
  const boundary = `medsam2-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    chunks.push(enc.encode(`--${boundary}\r\nContent-Type: ${type}\r\nContent-Length: ${p.length}\r\n\r\n`), p, enc.encode('\r\n'));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    body.set(c, o);
    o += c.length;
  }
  return { body, contentType: `multipart/related; type="${type}"; boundary=${boundary}` };
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (let i = hay.indexOf(first, from); i !== -1 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    for (let k = 1; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

/** The bodies of a multipart/related message (part headers dropped). */
export function splitMultipart(body: Uint8Array, boundary: string): Uint8Array[] {
  const delim = enc.encode(`--${boundary}`);
  const parts: Uint8Array[] = [];
  let at = indexOf(body, delim, 0);
  while (at !== -1) {
    const start = at + delim.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing "--boundary--"
    const headerEnd = indexOf(body, enc.encode('\r\n\r\n'), start);
    if (headerEnd === -1) break;
    const next = indexOf(body, delim, headerEnd + 4);
    if (next === -1) break;
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2; // the CRLF before a delimiter belongs to it
    parts.push(body.subarray(headerEnd + 4, end));
    at = next;
  }
  return parts;
}
