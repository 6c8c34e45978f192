/**
 * New DICOM UIDs as `2.25.<128-bit random number in decimal>` (PS3.5 B.2: UUID-derived UIDs need no
 * registered root). Uses Web Crypto, present in Node 20 and browsers.
 */
export function newUid(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40; // RFC 4122 version 4
  b[8] = (b[8] & 0x3f) | 0x80;
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return `2.25.${n.toString()}`;
}

/** DICOM DA and TM strings for a moment (local time, as modalities write them). */
export function dicomDateTime(d = new Date()): { date: string; time: string } {
  const p = (x: number, w = 2): string => String(x).padStart(w, '0');
  return {
    date: `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`,
    time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`,
  };
}
