import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFfmpeg } from './ffmpeg.js';

/**
 * A short text (an object's name) rasterised to a coverage mask, for drawing into video frames
 * (pipelines/videoLabel.ts). The glyphs come from the bundled ffmpeg's drawtext (libfreetype) and a
 * TrueType font Debian ships (fonts-dejavu-core, installed by .ci/setup.d/35-fonts.sh), so no font
 * renderer is written here. MEDSAM2_FONT points to another .ttf.
 */

export interface TextMask {
  width: number;
  height: number;
  /** Coverage 0..255, row-major, width*height. */
  alpha: Uint8Array;
}

const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/TTF/DejaVuSans-Bold.ttf',
  '/Library/Fonts/Arial.ttf',
  'C:\\Windows\\Fonts\\arial.ttf',
];

/** The font file labels are drawn with, or undefined when none is installed. */
export function labelFont(): string | undefined {
  const override = process.env.MEDSAM2_FONT;
  if (override) return existsSync(override) ? override : undefined;
  return FONT_CANDIDATES.find((f) => existsSync(f));
}

/** ffmpeg filter option values: escape the characters the filter parser treats specially. */
function filterValue(s: string): string {
  return s.replace(/[\\':]/g, (c) => `\\${c}`);
}

/** `text` in white on black at `fontSize` pixels, cropped to its ink (undefined: no font, or nothing drawn). */
export async function renderTextLabel(text: string, fontSize: number): Promise<TextMask | undefined> {
  const font = labelFont();
  if (!font || text.trim() === '') return undefined;
  const pad = Math.ceil(fontSize / 2);
  // An upper bound on the ink: no glyph of a sans font is wider than its size.
  const W = 2 * pad + [...text].length * fontSize;
  const H = 2 * pad + 2 * fontSize;
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-label-'));
  try {
    // The text goes in a file (no filter escaping of user text), drawn verbatim (expansion=none).
    const textFile = join(dir, 'label.txt');
    writeFileSync(textFile, text);
    const { stdout } = await runFfmpeg(
      [
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        `color=c=black:s=${W}x${H}:d=1`,
        '-vf',
        `drawtext=fontfile='${filterValue(font)}':textfile='${filterValue(textFile)}':expansion=none:fontsize=${fontSize}:fontcolor=white:x=${pad}:y=${pad}`,
        '-frames:v',
        '1',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'gray',
        'pipe:1',
      ],
      { what: 'an object label' },
    );
    if (stdout.length < W * H) return undefined;
    let x0 = W;
    let y0 = H;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        if (stdout[y * W + x]! > 16) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        }
    if (x1 < 0) return undefined;
    const width = x1 - x0 + 1;
    const height = y1 - y0 + 1;
    const alpha = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) alpha.set(stdout.subarray((y0 + y) * W + x0, (y0 + y) * W + x0 + width), y * width);
    return { width, height, alpha };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
