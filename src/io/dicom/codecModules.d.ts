// The @cornerstonejs wasm codecs, jpeg-lossless-decoder-js and dcmjs ship no type declarations; the
// emscripten factories resolve to module objects whose decoder classes are typed in ../dicomCodecs.ts, dcmjs in ./dcmjs.ts.
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  const f: (arg: object) => Promise<unknown>;
  export default f;
}
declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const f: (arg: object) => Promise<unknown>;
  export default f;
}
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const f: (arg: object) => Promise<unknown>;
  export default f;
}
declare module '@cornerstonejs/codec-openjph/wasmjs' {
  const f: (arg: object) => Promise<unknown>;
  export default f;
}
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
  }
}
declare module 'dcmjs' {
  const m: unknown;
  export default m;
}
