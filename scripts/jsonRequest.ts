/** One JSON (or raw-bytes) request to a bench's loopback server; a status ≥ 300 throws with the body. */
export async function jsonRequest(url: string, method: string, body?: unknown, bytes?: Uint8Array): Promise<any> {
  const r = await fetch(url, {
    method,
    headers: bytes ? { 'content-type': 'application/octet-stream' } : body === undefined ? {} : { 'content-type': 'application/json' },
    body: bytes ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const j = await r.json();
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}
