/**
 * Test inputs made at test time with Debian's DICOM tools (dcmtk, gdcm) from the shared CT series,
 * in temp folders: the series with UIDs filled in (the shared copy is anonymised without Study/Series/
 * SOP instance UIDs, which SEG, RTSTRUCT and PACS need), and the same pixels in every transfer syntax.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { data, tmp } from '../io/ioTestUtil.js';

export const SHARED_CT = data('dicom/ct-series');

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** Why a test must skip, or false: every named tool must be on PATH. */
export function skipWithoutTools(...tools: string[]): string | false {
  const missing = tools.filter((t) => !hasTool(t));
  return missing.length ? `needs ${missing.join(', ')} (.ci/setup.d/30-dicom.sh installs them)` : false;
}

export function tempDir(prefix = 'medsam2-dicom-'): string {
  return tmp(prefix);
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

/**
 * The shared CT series (JPEG 2000) with UIDs: one study/series UID for all, a SOP instance UID per
 * file derived from its file name (fixed, so repeated runs agree). Returns the folder.
 */
export function seriesWithUids(from = SHARED_CT, count?: number): { dir: string; files: string[]; studyUid: string; seriesUid: string } {
  const dir = tempDir();
  const studyUid = '2.25.1000000000000000000000001';
  const seriesUid = '2.25.1000000000000000000000002';
  const names = readdirSync(from)
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .slice(0, count);
  const files: string[] = [];
  names.forEach((name, i) => {
    const out = join(dir, `ct${String(i).padStart(3, '0')}.dcm`);
    copyFileSync(join(from, name), out);
    run('dcmodify', [
      '-nb',
      '-i',
      `(0008,0016)=${CT_IMAGE_STORAGE}`,
      '-i',
      `(0008,0018)=2.25.${2000000 + i}`,
      '-i',
      `(0020,000d)=${studyUid}`,
      '-i',
      `(0020,000e)=${seriesUid}`,
      '-i',
      '(0010,0010)=TEST^CT',
      '-i',
      '(0010,0020)=MEDSAM2-TEST',
      '-i',
      '(0020,0010)=1',
      '-i',
      '(0020,0011)=2',
      out,
    ]);
    files.push(out);
  });
  return { dir, files, studyUid, seriesUid };
}

export type Syntax =
  | 'explicit-le'
  | 'implicit-le'
  | 'big-endian'
  | 'deflate'
  | 'rle'
  | 'jpeg-lossless-sv1'
  | 'jpeg-lossless-14'
  | 'jpeg-ls'
  | 'jpeg-ls-near'
  | 'jpeg-extended-12'
  | 'j2k';

/** Decompress with gdcm (dcmtk has no JPEG 2000 decoder), then transcode with dcmtk into `syntax`. */
export function transcodeSeries(src: string[], syntax: Syntax): string {
  const dir = tempDir();
  src.forEach((f, i) => {
    const raw = join(dir, `raw${i}.tmp`);
    const out = join(dir, `${String(i).padStart(3, '0')}.dcm`);
    run('gdcmconv', ['--raw', f, raw]);
    switch (syntax) {
      case 'explicit-le':
        run('dcmconv', ['+te', raw, out]);
        break;
      case 'implicit-le':
        run('dcmconv', ['+ti', raw, out]);
        break;
      case 'big-endian':
        run('dcmconv', ['+tb', raw, out]);
        break;
      case 'deflate':
        run('dcmconv', ['+td', raw, out]);
        break;
      case 'rle':
        run('dcmcrle', [raw, out]);
        break;
      case 'jpeg-lossless-sv1':
        run('dcmcjpeg', ['+e1', raw, out]);
        break;
      case 'jpeg-lossless-14':
        run('dcmcjpeg', ['+el', '+sv', '3', raw, out]);
        break;
      case 'jpeg-ls':
        run('dcmcjpls', ['+el', raw, out]);
        break;
      case 'jpeg-ls-near':
        run('dcmcjpls', ['+en', '+md', '2', raw, out]);
        break;
      case 'jpeg-extended-12':
        run('dcmcjpeg', ['+ee', raw, out]);
        break;
      case 'j2k':
        copyFileSync(f, out);
        break;
    }
    rmSync(raw, { force: true });
  });
  return dir;
}
