/**
 * dcmjs (0.49.x: the last line without `engines: node >= 22.13`; 0.52 requires Node 22) serialises
 * and parses DICOM Part-10 with its data dictionary: we build SEG/RTSTRUCT datasets as "naturalized"
 * JSON (keyword → value) and let it encode VRs, sequences and the file meta header. dcmjs ships no
 * type declarations, so the small surface used here is typed below.
 */
import dcmjsModule from 'dcmjs';

/** A naturalized dataset: DICOM keywords to values (sequences are arrays of datasets). */
export type NaturalDataset = Record<string, unknown> & { _vrMap?: Record<string, string>; _meta?: unknown };

interface DicomDictLike {
  meta: Record<string, unknown>;
  dict: Record<string, unknown>;
  write(opts?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer;
}

interface DcmjsData {
  DicomMessage: {
    readFile(
      buffer: ArrayBuffer,
      opts?: { ignoreErrors?: boolean; untilTag?: string | null; includeUntilTagValue?: boolean; noCopy?: boolean },
    ): DicomDictLike;
  };
  DicomDict: new (meta: Record<string, unknown>) => DicomDictLike;
  DicomMetaDictionary: {
    naturalizeDataset(dict: Record<string, unknown>): NaturalDataset;
    denaturalizeDataset(ds: NaturalDataset): Record<string, unknown>;
  };
}

interface Logger {
  setLevel?: (level: string) => void;
  getLogger?: (name: string) => Logger;
}
const dcmjs = dcmjsModule as unknown as { data: DcmjsData; log?: Logger };
export const dcmjsData: DcmjsData = dcmjs.data;
// dcmjs's validation logger prints VR guesses on implicit-VR input ("Invalid vr type ox - using OW") to
// the console at error level; they are expected there (PixelData has no VR), so that logger is silenced.
dcmjs.log?.getLogger?.('validation.dcmjs').setLevel?.('silent');

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** Parse Part-10 bytes into a naturalized dataset (file meta under `_meta`). */
export function readNatural(bytes: Uint8Array): NaturalDataset {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const dict = dcmjsData.DicomMessage.readFile(buf);
  const ds = dcmjsData.DicomMetaDictionary.naturalizeDataset(dict.dict);
  ds._meta = dcmjsData.DicomMetaDictionary.naturalizeDataset(dict.meta);
  if ([ds.SpecificCharacterSet].flat().includes('ISO_IR 192')) for (const v of Object.values(ds)) if (Array.isArray(v)) utf8InItems(v);
  return ds;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * dcmjs 0.49 reads a defined-length sequence's items with a fresh stream that decodes text as
 * Latin-1 whatever SpecificCharacterSet says, so a UTF-8 SegmentLabel or ROIName ("肝臓") comes back
 * as its bytes ("è\x82\x9d…"). In a UTF-8 dataset the items' strings are decoded again: one whose
 * code units are all bytes and that is valid UTF-8 is taken as UTF-8 (a string read right, with a
 * character beyond U+00FF or not valid UTF-8 as bytes, stays as it is).
 */
function utf8InItems(items: unknown[]): void {
  for (const item of items) {
    if (!item || typeof item !== 'object' || ArrayBuffer.isView(item) || item instanceof ArrayBuffer) continue;
    const o = item as Record<string, unknown>;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string') o[k] = redecoded(v);
      else if (Array.isArray(v)) {
        if (v.every((x) => typeof x === 'string')) o[k] = v.map((x) => redecoded(x as string));
        else utf8InItems(v);
      }
    }
  }
}

function redecoded(s: string): string {
  if (!/[\u0080-\u00ff]/.test(s) || /[^\u0000-\u00ff]/.test(s)) return s;
  try {
    return UTF8.decode(Uint8Array.from(s, (c) => c.charCodeAt(0)));
  } catch {
    return s;
  }
}

/** Encode a naturalized dataset as a Part-10 file in explicit VR little endian (or `transferSyntax`). */
export function writeNatural(ds: NaturalDataset, transferSyntax = EXPLICIT_VR_LITTLE_ENDIAN): Uint8Array {
  const meta: NaturalDataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: ds.SOPInstanceUID,
    TransferSyntaxUID: transferSyntax,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: 'MEDSAM2JS_0',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  };
  const dict = new dcmjsData.DicomDict(dcmjsData.DicomMetaDictionary.denaturalizeDataset(meta));
  const body = { ...ds };
  delete body._meta;
  dict.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset(body);
  return new Uint8Array(dict.write({ fragmentMultiframe: false }));
}

/** Our implementation class UID: under the UUID-derived root 2.25 (PS3.5 B.2), fixed for this software. */
export const IMPLEMENTATION_CLASS_UID = '2.25.229585960310914733512845616592871934011';
