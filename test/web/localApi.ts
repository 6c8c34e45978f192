/**
 * The HTTP API as the local user of a `serve()` server (no auth on loopback: a server admin), for
 * browser tests that set a project up before the page opens: JSON or raw bytes in, the parsed
 * answer out, and any non-2xx answer a failure naming the call.
 */
import assert from 'node:assert/strict';

export async function localApi(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const bytes = body instanceof Uint8Array;
  const r = await fetch(url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': bytes ? 'application/octet-stream' : 'application/json' },
    body: body === undefined ? undefined : bytes ? body : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}
