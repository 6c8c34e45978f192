import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { MedsamError } from '../../common/errors.js';
import { readVolume } from '../../io/readVolume.js';
import type { Volume } from '../../io/volume.js';
import { writeMask } from '../../io/writeMask.js';
import { parsePrecision } from '../../models/precision.js';
import { dicomSource } from '../../io/dicom/segWrite.js';
import { isDicomwebUrl, parseDicomwebUrl, storeInstances } from '../../io/dicomweb/client.js';
import { readDicomwebSeries } from '../../io/dicomweb/readSeries.js';
import { readFileSync } from 'node:fs';
import { resolveModel } from '../../models/registry.js';
import { chooseWindow, describeWindow, parseWindow, toUint8, type WindowSpec } from '../../preprocess/intensity.js';
import { extractSlice, type SliceAxis } from '../../preprocess/slices.js';
import { sliceGeometry, validatePrompts, type VolumePrompt } from '../../predictor/prompts.js';
import { loadCase, type LoadedCase } from '../../pipelines/loadCase.js';
import { writeMontage } from '../../pipelines/preview.js';
import { promptFromReference } from '../../pipelines/referencePrompt.js';
import { segmentVolume } from '../../pipelines/segmentVolume.js';
import { MASK_EXTENSIONS, checkOutputPath, guardOutputs, type OutputTarget } from '../outputPaths.js';
import {
  addReadOptions,
  collect,
  parseAxis,
  parseBox,
  parseFillHoles,
  parseIndex,
  parseMemoryMode,
  parsePoint,
  parsePositiveInt,
  parseReadOptions,
  type ReadFlags,
} from '../parseArgs.js';
import { addModelOptions } from '../modelOptions.js';
import { onInterrupt } from '../interrupt.js';
import { runModel } from '../modelRun.js';
import { embeddingCacheFromEnv } from '../embeddingCacheEnv.js';
import { progressBar } from '../progress.js';
import { isPicture, maskSize } from '../maskSize.js';

interface SegmentFlags extends ReadFlags {
  output: string;
  slice?: string;
  box?: string;
  point?: string[];
  recist?: string;
  mask?: string;
  objId?: string;
  axis?: string;
  window?: string;
  model?: string;
  threads?: string;
  precision: string;
  largestComponent?: boolean;
  preview?: string;
  autoKeyBox?: boolean;
  memory?: string;
  fillHoles?: string;
  keyMask?: boolean;
  quiet?: boolean;
  format?: string;
  store?: boolean;
}

const AXIS_NAMES = ['x', 'y', 'z'] as const;

/** A key-slice mask from a file: a volume on the input grid (its slice is taken) or a single slice. */
async function keySliceMask(path: string, image: Volume, axis: SliceAxis, slice: number, maxVoxels?: number): Promise<Uint8Array> {
  const m = await readVolume(path, { grid: image, maxVoxels }); // a DICOM SEG is placed on the input's grid
  const g = sliceGeometry(image.dims, axis);
  let data: ArrayLike<number | bigint>;
  if (m.dims.every((d, i) => d === image.dims[i])) data = extractSlice(m.data, m.dims, axis, slice);
  else if (m.dims[2] === 1 && m.dims[0] === g.width && m.dims[1] === g.height) data = m.data;
  else {
    throw new MedsamError(
      `--mask ${path} is ${m.dims.join('x')}; it must be the input's grid ${image.dims.join('x')} or one ${g.width}x${g.height} slice`,
      'draw the mask on the same image',
    );
  }
  return Uint8Array.from(data as ArrayLike<number>, (v) => (Number(v) !== 0 ? 1 : 0));
}

async function buildPrompt(flags: SegmentFlags, input: LoadedCase, axis: SliceAxis): Promise<VolumePrompt> {
  const objId = flags.objId !== undefined ? parseIndex('--obj-id', flags.objId) : undefined;
  const given = [flags.box && '--box', flags.point?.length && '--point', flags.recist && '--recist', flags.mask && '--mask'].filter(
    Boolean,
  );
  if (flags.autoKeyBox) {
    if (given.length)
      throw new MedsamError(
        `--auto-key-box cannot be combined with ${given.join(', ')}`,
        'use either the reference key box or your own prompt',
      );
    if (!input.label) {
      throw new MedsamError(
        `--auto-key-box needs a reference mask in the input, and ${input.image.source.path} has none`,
        'use it with a MedSAM2 .npz that has gts, or give --slice and --box',
      );
    }
    const p = promptFromReference('key-box', { reference: input.label.data as ArrayLike<number>, dims: input.image.dims, axis, objId });
    if (flags.slice !== undefined && parseIndex('--slice', flags.slice) !== p.slice) {
      throw new MedsamError(
        `--slice ${flags.slice} conflicts with --auto-key-box, which uses the reference's largest slice ${p.slice}`,
        'drop --slice',
      );
    }
    // Always said, even with --quiet: the result must not be mistaken for a real prompted segmentation.
    process.stderr.write(
      `note: --auto-key-box: prompting with the REFERENCE mask's box [${p.box!.join(', ')}] on its largest slice ${p.slice} (demo convenience, not a real user prompt)\n`,
    );
    return p;
  }
  // A picture (one slice along the axis) needs no --slice.
  const single = sliceGeometry(input.image.dims, axis).count === 1;
  if (flags.slice === undefined && !single)
    throw new MedsamError('--slice is required', 'give the key slice index along --axis, e.g. --slice 7');
  const slice = flags.slice === undefined ? 0 : parseIndex('--slice', flags.slice);
  if (given.length === 0)
    throw new MedsamError('no prompt given', 'add --box x0,y0,x1,y1, --point x,y[,label], --recist x0,y0,x1,y1 or --mask file');
  const prompt: VolumePrompt = { slice, objId };
  if (flags.box) prompt.box = parseBox(flags.box);
  if (flags.recist) prompt.recist = parseBox(flags.recist, '--recist');
  if (flags.point?.length) prompt.points = flags.point.map(parsePoint);
  if (flags.mask) {
    const count = sliceGeometry(input.image.dims, axis).count;
    if (slice >= count)
      throw new MedsamError(
        `--slice ${slice} is outside the volume (0..${count - 1} along ${AXIS_NAMES[axis]})`,
        'give a slice inside the volume',
      );
    prompt.mask = await keySliceMask(flags.mask, input.image, axis, slice, parseReadOptions(flags).maxVoxels);
  }
  return prompt;
}

export async function runSegment(input: string, flags: SegmentFlags): Promise<void> {
  const log = (s: string) => {
    if (!flags.quiet) process.stderr.write(s + '\n');
  };
  // Everything cheap is checked before reading the volume or loading the model.
  const axis = flags.axis !== undefined ? parseAxis(flags.axis) : 2;
  const window: WindowSpec | 'auto' = flags.window !== undefined ? parseWindow(flags.window) : 'auto';
  const threads = flags.threads !== undefined ? parsePositiveInt('--threads', flags.threads) : undefined;
  const precision = parsePrecision(flags.precision);
  const model = resolveModel(flags.model ?? 'default');
  const embeddingCacheDir = embeddingCacheFromEnv();
  const memory = parseMemoryMode(flags.memory, model);
  const fillHoleArea = parseFillHoles(flags.fillHoles, model);
  if (flags.keyMask && model.family !== 'sam2') {
    throw new MedsamError(
      `--key-mask applies to SAM2-family models, and '${model.id}' is a ${model.family} model`,
      'drop --key-mask or pass --model <an imported SAM2 id>',
    );
  }
  checkOutputPath(flags.output, 'output', MASK_EXTENSIONS);
  const dicomFormat = parseDicomFormat(flags.format, flags.output);
  const web = isDicomwebUrl(input) ? parseDicomwebUrl(input) : undefined;
  if (flags.store && (!web || !dicomFormat)) {
    throw new MedsamError(
      `--store pushes a DICOM SEG/RTSTRUCT back to the DICOMweb server it came from, so it needs a dicomweb:// input and a .seg.dcm/.rtstruct.dcm output${web ? '' : ` (input: ${input})`}`,
      'give both, or drop --store',
    );
  }
  if (flags.preview) checkOutputPath(flags.preview, 'preview', ['.png']);
  const outputs: OutputTarget[] = [
    { flag: '-o', path: flags.output },
    ...(flags.preview ? [{ flag: '--preview', path: flags.preview }] : []),
  ];
  const inputs = [input, ...(flags.mask ? [flags.mask] : [])];
  guardOutputs(inputs, outputs);
  if (flags.box) parseBox(flags.box);
  if (flags.recist) parseBox(flags.recist, '--recist');
  flags.point?.forEach(parsePoint);
  const readOptions = { ...parseReadOptions(flags), filesRead: [] as string[] };

  const data = web ? { image: await readDicomwebSeries(input) } : await loadCase(input, readOptions);
  // Detached data files (.nhdr/.mhd) are inputs too.
  guardOutputs([...inputs, ...readOptions.filesRead], outputs);
  const image = data.image;
  // A DICOM output needs a DICOM source: refuse before the model runs.
  if (dicomFormat) dicomSource(image, flags.output);
  const prompt = await buildPrompt(flags, data, axis);
  validatePrompts([prompt], sliceGeometry(image.dims, axis));

  const resolvedWindow = window === 'auto' ? chooseWindow(image) : { window, reason: 'from --window' };
  const image8 = toUint8(image, { window: resolvedWindow.window });
  // Installed before the line below is printed: a Ctrl-C from then on stops the work cleanly.
  const interrupt = onInterrupt();
  log(
    `intensity: ${describeWindow(resolvedWindow.window)} (${resolvedWindow.reason}); model: ${model.id}; ${isPicture(image) ? 'one picture' : `axis ${AXIS_NAMES[axis]}, key slice ${prompt.slice}`}`,
  );

  let result;
  try {
    result = await runModel(interrupt, { model: model.id, threads, precision }, progressBar(!flags.quiet), (run) =>
      segmentVolume(image, [prompt], {
        ...run,
        axis,
        intensity: () => image8,
        largestComponent: flags.largestComponent,
        embeddingCacheDir,
        ...(model.family === 'sam2'
          ? { sam2: { memory, fillHoleArea, keySlice: flags.keyMask ? ('mask' as const) : ('prompt' as const) } }
          : {}),
      }),
    );
    // A Ctrl-C from here on lets the (atomic) writes finish.
    interrupt.check();
    await writeMask(
      flags.output,
      result.mask,
      image,
      dicomFormat ? { format: dicomFormat, algorithmName: model.id, algorithmVersion: `medsam2.js ${packageVersion()}` } : undefined,
    );
    // Every slice the object reached, so a person sees where propagation went (not only the key slice).
    if (flags.preview)
      writeMontage(flags.preview, image8, image.dims, result.mask.data as ArrayLike<number>, undefined, { axis, prompts: [prompt] });
  } finally {
    interrupt.dispose();
  }

  if (flags.store && web) {
    await storeInstances(web.base, [new Uint8Array(readFileSync(flags.output))], web.study);
    log(`stored ${flags.output} to ${web.base} (study ${web.study})`);
  }

  let voxels = 0;
  for (let i = 0; i < result.mask.data.length; i++) if (Number(result.mask.data[i]) !== 0) voxels++;
  const extra = flags.preview ? `, preview ${flags.preview}` : '';
  process.stdout.write(
    `segmented ${maskSize(voxels, image)}${isPicture(image) ? '' : ` on ${result.slicesSegmented} slice(s)`} in ${result.seconds.toFixed(1)} s -> ${flags.output}${extra}\n`,
  );
  if (voxels === 0)
    log(
      isPicture(image)
        ? 'warning: the mask is empty; check the prompt coordinates (x = column, y = row of the picture)'
        : 'warning: the mask is empty; check the prompt coordinates (x = column, y = row of the slice) and the slice index',
    );
}

/** `--format seg|rtstruct`, or from the name: `.rtstruct.dcm` → RTSTRUCT, other `.dcm` → SEG; undefined for non-DICOM outputs. */
function parseDicomFormat(format: string | undefined, output: string): 'seg' | 'rtstruct' | undefined {
  const isDcm = output.toLowerCase().endsWith('.dcm');
  if (format !== undefined) {
    if (format !== 'seg' && format !== 'rtstruct')
      throw new MedsamError(`--format ${format} is not known`, 'use --format seg or --format rtstruct');
    if (!isDcm)
      throw new MedsamError(
        `--format ${format} writes DICOM, but the output ${output} is not a .dcm file`,
        'name the output out.seg.dcm or out.rtstruct.dcm',
      );
    return format;
  }
  if (!isDcm) return undefined;
  return /\.rt(struct)?\.dcm$/i.test(output) ? 'rtstruct' : 'seg';
}

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function addSegmentCommand(program: Command): void {
  const cmd = addModelOptions(program.command('segment'))
    .description('segment an object in a 3D image from one prompt on a key slice, propagated through the volume (or in one 2D picture)')
    .argument(
      '<input>',
      'image: .nii/.nii.gz, .nrrd, .mha/.mhd, MedSAM2 .npz, DICOM folder/.dcm, dicomweb://host:port/…/studies/S/series/X, .png/.jpg',
    )
    .requiredOption('-o, --output <file>', 'output mask (.nii.gz, .nii, .nrrd, .npz, .png; DICOM inputs also .seg.dcm / .rtstruct.dcm)')
    .option('--store', 'dicomweb:// inputs: also store the DICOM output on that server (STOW-RS)')
    .option('--format <seg|rtstruct>', 'DICOM output kind for a .dcm output (default: from the name, else SEG)')
    .option('--slice <index>', 'key slice index along --axis (voxel index; not needed for a single picture)')
    .option('--box <x0,y0,x1,y1>', 'box on the key slice, voxel indices (x = column, y = row)')
    .option('--point <x,y[,label]>', 'point on the key slice; label 1 = object (default), 0 = background; repeatable', collect)
    .option('--recist <x0,y0,x1,y1>', 'RECIST long-axis endpoints on the key slice (turned into a box as MedSAM2 does)')
    .option('--mask <file>', 'mask of the object on the key slice (volume on the input grid, or one slice)')
    .option('--obj-id <n>', 'label value written for the object (1..255)', '1')
    .option('--axis <x|y|z>', 'slicing axis', 'z')
    .option(
      '--window <preset|W,L>',
      'intensity window: auto, abdomen, lung, brain, mediastinum, bone, W,L in HU, percentile, identity',
      'auto',
    )
    .option('--largest-component', 'keep only the largest 3D connected component (default)')
    .option('--no-largest-component', 'keep every connected component')
    .option('--preview <file.png>', 'also write a PNG montage of every slice with the mask (numbered), the prompt on the key slice')
    .option('--fill-holes <px>', 'SAM2 models: fill mask holes up to this many low-res pixels (default 8, 0 = off)')
    .option('--key-mask', 'SAM2 models: MedSAM2 --propagate_with_box flow (segment the key slice, then propagate its mask)')
    .option('--auto-key-box', 'demo: prompt with the box of the reference mask (npz gts) on its largest slice');
  addReadOptions(cmd)
    .option('-q, --quiet', 'no progress bar or notes')
    .action(async (input: string, flags: SegmentFlags) => runSegment(input, flags));
}
