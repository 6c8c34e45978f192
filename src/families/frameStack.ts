import { MedsamError } from '../common/errors.js';
import { voxelCount, type Volume } from '../io/volume.js';
import { volumeToUint8 } from '../preprocess/intensity.js';
import { extractSlice, sliceShape, type SliceAxis } from '../preprocess/slices.js';
import type { FrameStack } from './family.js';

/** The windowed 8-bit slices of a volume along `axis`, extracted on demand (families cache features, not pixels). */
export function volumeStack(volume: Volume, axis: SliceAxis, intensity?: (v: Volume) => Uint8Array): FrameStack {
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new MedsamError(`axis ${String(axis)} is not 0, 1 or 2`, 'use 0 (x), 1 (y) or 2 (z)');
  if (volume.data.length !== voxelCount(volume)) {
    throw new MedsamError(
      `volume has ${volume.data.length} voxels but dims ${volume.dims.join('x')} need ${voxelCount(volume)}`,
      'the volume is inconsistent; re-read it',
    );
  }
  const u8 = volumeToUint8(volume, intensity);
  const s = sliceShape(volume.dims, axis);
  return {
    kind: 'volume',
    numFrames: s.count,
    rows: s.rows,
    cols: s.cols,
    channels: 1,
    frame: (i) => extractSlice(u8, volume.dims, axis, i),
  };
}

/** RGB video frames (interleaved height × width × 3) as a stack. */
export function videoStack(video: { width: number; height: number; frames: readonly Uint8Array[] }): FrameStack {
  const { width, height, frames } = video;
  if (frames.length === 0) throw new MedsamError('the video has no frames', 'pass a video with at least one frame');
  for (const [i, f] of frames.entries()) {
    if (f.length !== width * height * 3) {
      throw new MedsamError(
        `frame ${i} has ${f.length} values, ${width}x${height} RGB needs ${width * height * 3}`,
        'pass interleaved RGB frames of one size',
      );
    }
  }
  return { kind: 'video', numFrames: frames.length, rows: height, cols: width, channels: 3, frame: (i) => frames[i]! };
}
