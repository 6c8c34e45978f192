import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { MedsamError } from '../common/errors.js';

/**
 * Locates the ffmpeg binary shipped inside the npm package @ffmpeg-installer/ffmpeg (so video
 * support installs from the npm registry alone). MEDSAM2_FFMPEG overrides it.
 */
export function ffmpegPath(): string {
  const override = process.env.MEDSAM2_FFMPEG;
  if (override) {
    if (!existsSync(override))
      throw new MedsamError(`MEDSAM2_FFMPEG points to ${override}, which does not exist`, 'unset it or point it to an ffmpeg binary');
    return override;
  }
  try {
    const req = createRequire(import.meta.url);
    const mod = req('@ffmpeg-installer/ffmpeg') as { path: string };
    if (existsSync(mod.path)) return mod.path;
  } catch {
    // fall through to the error below
  }
  throw new MedsamError(
    'no ffmpeg binary for this platform',
    'run `npm ci` (installs @ffmpeg-installer/ffmpeg) or set MEDSAM2_FFMPEG to an ffmpeg binary',
  );
}

export interface FfmpegResult {
  stdout: Buffer;
  stderr: string;
}

/**
 * Run ffmpeg with `args`, optionally feeding `input` to stdin; rejects with ffmpeg's last error line.
 * With `maxStdout`, ffmpeg is killed once it has written more than `bytes` and the run rejects with
 * `error()` (a damaged header can claim a frame size whose decode would exhaust memory).
 */
export function runFfmpeg(
  args: string[],
  opts: {
    input?: Uint8Array | Iterable<Uint8Array>;
    what: string;
    onStdout?: (chunk: Buffer) => void;
    maxStdout?: { bytes: number; error: () => MedsamError };
  },
): Promise<FfmpegResult> {
  const bin = ffmpegPath();
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['-hide_banner', '-nostdin', ...args], { stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let written = 0;
    let overflow = false;
    p.stdout!.on('data', (c: Buffer) => {
      if (overflow) return;
      written += c.length;
      if (opts.maxStdout && written > opts.maxStdout.bytes) {
        overflow = true;
        out.length = 0;
        p.kill('SIGKILL');
        return;
      }
      if (opts.onStdout) opts.onStdout(c);
      else out.push(c);
    });
    p.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.length > 1 << 20) err = err.slice(-65536);
    });
    p.on('error', (e) =>
      reject(new MedsamError(`could not start ffmpeg for ${opts.what}: ${e.message}`, 'reinstall with `npm ci` or set MEDSAM2_FFMPEG')),
    );
    p.on('close', (code) => {
      if (overflow) return reject(opts.maxStdout!.error());
      if (code === 0) return resolve({ stdout: Buffer.concat(out), stderr: err });
      const last =
        err
          .trim()
          .split('\n')
          .filter((l) => l.trim())
          .pop() ?? `exit code ${code}`;
      reject(
        new MedsamError(
          `ffmpeg failed on ${opts.what}: ${last.trim()}`,
          'check that the file is a readable video (mp4, avi, mov, mkv) or a folder of frames',
        ),
      );
    });
    if (opts.input && p.stdin) {
      p.stdin.on('error', () => {
        /* ffmpeg exited early; its exit code reports why */
      });
      const chunks = opts.input instanceof Uint8Array ? [opts.input] : opts.input;
      (async () => {
        for (const c of chunks) {
          if (!p.stdin!.write(c)) await new Promise((r) => p.stdin!.once('drain', r));
        }
        p.stdin!.end();
      })().catch(() => p.stdin!.destroy());
    }
  });
}
