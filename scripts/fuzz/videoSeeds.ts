/**
 * Video seeds for the reader fuzzer (scripts/fuzzReaders.ts): a tiny H.264 mp4 (moov first, so
 * header damage reaches the sample tables), an MPEG-4 Part 2 avi and an MJPEG mkv, each made once
 * by the bundled ffmpeg from its test pattern in a temp folder (nothing is stored in the repo). A
 * case writes its damaged bytes to a temp file and reads them as `medsam2 video` does (readVideo),
 * under the fuzz limits, so a header that claims a huge frame is refused rather than decoded.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFfmpeg } from '../../src/io/ffmpeg.js';
import { readVideo } from '../../src/io/video.js';
import type { ReadLimits } from '../../src/io/readLimits.js';
import type { ReaderSeed } from './readerSeeds.js';

/** Frames a fuzz read decodes at most (the seeds have 6). */
const MAX_FRAMES = 12;

const CLIPS = [
  {
    format: 'video-mp4',
    name: 'seed.mp4',
    codec: ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
    body: 'mdat',
  },
  { format: 'video-avi', name: 'seed.avi', codec: ['-c:v', 'mpeg4', '-q:v', '5'], body: 'movi' },
  { format: 'video-mkv', name: 'seed.mkv', codec: ['-c:v', 'mjpeg', '-q:v', '5', '-pix_fmt', 'yuvj420p'], body: '' },
] as const;

/** Offset of an ASCII tag (where a container's header ends and its payload starts), or `fallback`. */
function tagAt(b: Uint8Array, tag: string, fallback: number): number {
  if (!tag) return fallback;
  const t = [...tag].map((c) => c.charCodeAt(0));
  for (let i = 0; i + t.length <= b.length; i++) if (t.every((x, k) => b[i + k] === x)) return i;
  return fallback;
}

/** Reads damaged video bytes as the CLI does: a temp file, readVideo, then deleted. */
function readAsFile(name: string) {
  return async (bytes: Uint8Array, limits: ReadLimits) => {
    const dir = mkdtempSync(join(tmpdir(), 'medsam2-fuzz-video-'));
    try {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return { video: await readVideo(path, { maxFrames: MAX_FRAMES, limits }) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** The video seeds: each clip 32x24, 6 frames at 10 fps, from ffmpeg's testsrc. */
export async function videoSeeds(): Promise<ReaderSeed[]> {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-fuzz-seeds-'));
  try {
    const seeds: ReaderSeed[] = [];
    for (const c of CLIPS) {
      const path = join(dir, c.name);
      await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=32x24:rate=10:duration=0.6', ...c.codec, path], {
        what: `the fuzz seed ${c.name}`,
      });
      const bytes = Uint8Array.from(readFileSync(path));
      seeds.push({
        format: c.format,
        name: c.name,
        bytes,
        headerLength: Math.max(64, tagAt(bytes, c.body, Math.min(bytes.length, 1024))),
        read: readAsFile(c.name),
      });
    }
    return seeds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
