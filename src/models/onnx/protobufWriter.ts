/**
 * Minimal protobuf wire-format writer, enough to serialise ONNX ModelProto.
 * Hand-written because the ONNX subset we emit is small and fixed; the npm `onnx-proto`
 * package pins the unmaintained protobufjs 6 and would add a code generator for ~10 messages.
 */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1024);
  private pos = 0;
  private total = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.cur.length) return;
    this.flush();
    if (n > this.cur.length) this.cur = new Uint8Array(Math.max(n, 1024));
  }

  private flush(): void {
    if (this.pos > 0) this.chunks.push(this.cur.slice(0, this.pos));
    this.total += this.pos;
    this.pos = 0;
  }

  /** Unsigned varint; numbers up to 2^53 and bigint (two's complement 64-bit for negatives). */
  varint(v: number | bigint): this {
    let x = typeof v === 'bigint' ? BigInt.asUintN(64, v) : v < 0 ? BigInt.asUintN(64, BigInt(v)) : v;
    this.ensure(10);
    if (typeof x === 'number') {
      while (x >= 0x80) {
        this.cur[this.pos++] = (x % 128) | 0x80;
        x = Math.floor(x / 128);
      }
      this.cur[this.pos++] = x;
    } else {
      while (x >= 0x80n) {
        this.cur[this.pos++] = Number(x & 0x7fn) | 0x80;
        x >>= 7n;
      }
      this.cur[this.pos++] = Number(x);
    }
    return this;
  }

  tag(field: number, wire: 0 | 1 | 2 | 5): this {
    return this.varint(field * 8 + wire);
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.flush();
    this.chunks.push(data);
    this.total += data.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  int(field: number, v: number | bigint): this {
    return this.tag(field, 0).varint(v);
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.cur.buffer, this.cur.byteOffset + this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
    return this;
  }

  /** Packed repeated varints (int64 lists). */
  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of vs) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  /** Packed repeated fixed32 floats. */
  packedFloats(field: number, vs: readonly number[]): this {
    const buf = new Uint8Array(vs.length * 4);
    const dv = new DataView(buf.buffer);
    vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, buf);
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    this.flush();
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
