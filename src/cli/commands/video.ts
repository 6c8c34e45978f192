import type { Command } from 'commander';
import { MedsamError } from '../../common/errors.js';
import { readImage2D } from '../../io/imageFile.js';
import { parsePrecision } from '../../models/precision.js';
import { resolveModel } from '../../models/registry.js';
import { describeVideoResult, segmentVideo, type FramePrompt } from '../../pipelines/segmentVideo.js';
import { loadFrames, type LoadedFrames } from '../../pipelines/videoFrames.js';
import { VIDEO_OUTPUTS, checkVideoOutputDir } from '../../pipelines/videoOutputs.js';
import { validateFramePrompts } from '../../pipelines/videoPrompts.js';
import { join } from 'node:path';
import { guardOutputs } from '../outputPaths.js';
import { collect, parseBox, parseIndex, parseMemoryMode, parsePoint, parsePositiveInt, parsePositiveNumber } from '../parseArgs.js';
import { addModelOptions } from '../modelOptions.js';
import { embeddingCacheFromEnv } from '../embeddingCacheEnv.js';
import { onInterrupt } from '../interrupt.js';
import { runModel } from '../modelRun.js';
import { progressBar } from '../progress.js';

interface VideoFlags {
  output: string;
  frame?: string;
  box?: string;
  point?: string[];
  mask?: string;
  objId?: string;
  model?: string;
  threads?: string;
  precision: string;
  maxFrames?: string;
  fps?: string;
  memory?: string;
  quiet?: boolean;
}

/** A frame-sized mask picture: non-zero pixels are the object (JPEG: above mid-gray, to ignore compression noise). */
function readFrameMask(path: string, video: LoadedFrames): Uint8Array {
  const img = readImage2D(path);
  if (img.width !== video.width || img.height !== video.height) {
    throw new MedsamError(
      `--mask ${path} is ${img.width}x${img.height}, the video frames are ${video.width}x${video.height}`,
      'draw the mask on a frame of this video',
    );
  }
  const cut = img.source.format === 'jpeg' ? 127 : 0;
  const n = img.width * img.height,
    c = img.channels;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let on = false;
    for (let k = 0; k < c; k++) on ||= img.data[i * c + k]! > cut;
    mask[i] = on ? 1 : 0;
  }
  return mask;
}

export async function runVideo(input: string, flags: VideoFlags): Promise<void> {
  const log = (s: string) => {
    if (!flags.quiet) process.stderr.write(s + '\n');
  };
  // Everything cheap is checked before decoding the video or loading the model.
  if (flags.frame === undefined)
    throw new MedsamError('--frame is required', 'give the 0-based index of the prompted frame, e.g. --frame 0');
  const frame = parseIndex('--frame', flags.frame);
  const objId = parseIndex('--obj-id', flags.objId ?? '1');
  const threads = flags.threads !== undefined ? parsePositiveInt('--threads', flags.threads) : undefined;
  const precision = parsePrecision(flags.precision);
  const maxFrames = flags.maxFrames !== undefined ? parsePositiveInt('--max-frames', flags.maxFrames) : undefined;
  const fps = flags.fps !== undefined ? parsePositiveNumber('--fps', flags.fps) : undefined;
  const model = resolveModel(flags.model ?? 'default');
  const embeddingCacheDir = embeddingCacheFromEnv();
  const memory = parseMemoryMode(flags.memory, model);
  const box = flags.box !== undefined ? parseBox(flags.box) : undefined;
  const points = flags.point?.map(parsePoint);
  if (flags.mask && (box || points?.length))
    throw new MedsamError('--mask cannot be combined with --box or --point', 'give either a mask or a box/points');
  if (!flags.mask && !box && !points?.length)
    throw new MedsamError('no prompt given', 'add --box x0,y0,x1,y1, --point x,y[,label] or --mask file.png');
  checkVideoOutputDir(flags.output);
  guardOutputs(
    [input, ...(flags.mask ? [flags.mask] : [])],
    [
      { flag: '-o', path: join(flags.output, VIDEO_OUTPUTS.masks), kind: 'folder' },
      { flag: '-o', path: join(flags.output, VIDEO_OUTPUTS.npz) },
      { flag: '-o', path: join(flags.output, VIDEO_OUTPUTS.overlay) },
    ],
  );

  const video = await loadFrames(input, { maxFrames, fps, onNote: (m) => process.stderr.write(`note: ${m}\n`) });
  const prompt: FramePrompt = { frame, objId };
  if (box) prompt.box = box;
  if (points?.length) prompt.points = points;
  if (flags.mask) prompt.mask = readFrameMask(flags.mask, video);
  validateFramePrompts([prompt], video.width, video.height, video.frames.length);
  // segmentVideo writes the outputs itself, after the model and only if the signal has not fired.
  // Installed before the line below is printed: a Ctrl-C from then on stops the work cleanly.
  const interrupt = onInterrupt();
  log(
    `video: ${video.frames.length} frames ${video.width}x${video.height} at ${+video.fps.toFixed(3)} fps (${video.kind}); model: ${model.id}; prompt on frame ${frame}`,
  );

  let result;
  try {
    result = await runModel(interrupt, { model: model.id, threads, precision }, progressBar(!flags.quiet, 'frames'), (run) =>
      segmentVideo(video, [prompt], { ...run, outDir: flags.output, log, memory, embeddingCacheDir }),
    );
  } finally {
    interrupt.dispose();
  }
  process.stdout.write(`${describeVideoResult(result)} -> ${flags.output} (${Object.values(VIDEO_OUTPUTS).join(', ')})\n`);
  if (result.objects.some((o) => o.promptArea === 0)) {
    log('warning: an object is empty on its prompted frame; check the prompt coordinates (x = column, y = row, in frame pixels)');
  }
}

export function addVideoCommand(program: Command): void {
  addModelOptions(program.command('video'))
    .description('segment an object through a video from one prompt on one frame (tracked forward and backward)')
    .argument('<input>', 'video file (.mp4, .avi, .mov, .mkv) or a folder of PNG/JPEG frames (natural name order)')
    .requiredOption('-o, --output <dir>', 'output folder: masks/<frame>.png, masks.npz (segs N,H,W), overlay.mp4')
    .option('--frame <index>', '0-based index of the prompted frame')
    .option('--box <x0,y0,x1,y1>', 'box on the frame, pixels (x = column, y = row)')
    .option('--point <x,y[,label]>', 'point on the frame; label 1 = object (default), 0 = background; repeatable', collect)
    .option('--mask <file.png>', 'mask of the object on the frame (PNG/JPEG of the frame size, non-zero = object)')
    .option('--obj-id <n>', 'label value written for the object (1..255)', '1')
    .option('--max-frames <n>', 'use only the first N frames')
    .option('--fps <n>', "frame rate of the overlay video (default: the input video's, 25 for a folder)")
    .option('-q, --quiet', 'no progress bar or notes')
    .action(async (input: string, flags: VideoFlags) => runVideo(input, flags));
}
