import type { Command } from 'commander';
import { join } from 'node:path';
import { MedsamError } from '../../common/errors.js';
import { parsePrecision } from '../../models/precision.js';
import { resolveModel } from '../../models/registry.js';
import { parseWindow } from '../../preprocess/intensity.js';
import { evaluateFolder, findCasesDetailed, formatReportTable, unitText } from '../../pipelines/evaluate.js';
import { parsePromptPolicy } from '../../pipelines/referencePrompt.js';
import { PRECISION_HELP } from '../modelOptions.js';
import { onInterrupt } from '../interrupt.js';
import { checkOutputFolder, guardOutputs } from '../outputPaths.js';
import { EMBEDDING_CACHE_ENV, embeddingCacheFromEnv } from '../embeddingCacheEnv.js';
import { parseIndex, parsePositiveInt, parsePositiveNumber } from '../parseArgs.js';
import { progressBar } from '../progress.js';

interface EvalFlags {
  out: string;
  prompt: string;
  labels?: string;
  label?: string;
  model: string;
  threads?: string;
  precision: string;
  window: string;
  tolerance?: string;
  clicks: string;
  previews?: string;
  embeddingCache?: string;
  saveMasks?: boolean;
  quiet?: boolean;
}

/** `all` or a comma-separated list of positive label values. */
export function parseLabels(text: string): 'all' | number[] {
  if (text.trim().toLowerCase() === 'all') return 'all';
  const parts = text.split(',').map((s) => s.trim());
  const labels = parts.map((s) => Number(s));
  if (!parts.length || labels.some((l, i) => !/^\d+$/.test(parts[i]!) || !Number.isInteger(l) || l < 1)) {
    throw new MedsamError(`--labels '${text}' is not 'all' or a list of positive integers`, 'use e.g. --labels all or --labels 1,5,7');
  }
  return [...new Set(labels)];
}

export async function runEval(dir: string, flags: EvalFlags): Promise<void> {
  const log = (s: string) => {
    if (!flags.quiet) process.stderr.write(s + '\n');
  };
  const prompt = parsePromptPolicy(flags.prompt);
  if (flags.label !== undefined && flags.labels !== undefined)
    throw new MedsamError('--label and --labels were both given', 'use --labels 1,5,7 (or --labels all)');
  const labels =
    flags.labels !== undefined ? parseLabels(flags.labels) : flags.label !== undefined ? [parseIndex('--label', flags.label)] : 'all';
  if (Array.isArray(labels) && labels.includes(0)) throw new MedsamError('label 0 is the background', 'give labels >= 1');
  const threads = flags.threads !== undefined ? parsePositiveInt('--threads', flags.threads) : undefined;
  const precision = parsePrecision(flags.precision);
  const tolerance = flags.tolerance !== undefined ? parsePositiveNumber('--tolerance', flags.tolerance) : undefined;
  const clicks = flags.clicks === '0' ? 0 : parsePositiveInt('--clicks', flags.clicks);
  if (clicks > 50) throw new MedsamError(`--clicks ${clicks} is more than 50`, 'use a number of clicks in 0..50');
  const window = parseWindow(flags.window);
  const model = resolveModel(flags.model);
  findCasesDetailed(dir); // fail fast on an empty/missing folder, before any model work
  checkOutputFolder('--out', flags.out);
  if (flags.previews) checkOutputFolder('--previews', flags.previews);
  if (flags.embeddingCache) checkOutputFolder('--embedding-cache', flags.embeddingCache);
  const embeddingCacheDir = flags.embeddingCache ?? embeddingCacheFromEnv();
  guardOutputs(
    [dir],
    [
      { flag: '--out', path: join(flags.out, 'report.csv') },
      { flag: '--out', path: join(flags.out, 'report.json') },
      ...(flags.saveMasks ? [{ flag: '--save-masks', path: join(flags.out, 'masks'), kind: 'folder' as const }] : []),
      ...(flags.previews ? [{ flag: '--previews', path: flags.previews, kind: 'folder' as const }] : []),
    ],
  );

  // A case's line is printed when it is done (with its scores or skip reason), so a failure
  // on a case prints the error alone, not a progress line followed by the error.
  let current = '';
  let bar = progressBar(false);
  // Ctrl-C stops before the next case, object, click or slice; nothing is written then.
  const interrupt = onInterrupt();
  let report;
  try {
    report = await interrupt.around(
      evaluateFolder(dir, {
        signal: interrupt.signal,
        outDir: flags.out,
        prompt,
        labels,
        model: model.id,
        threads,
        precision,
        tolerance,
        window,
        saveMasks: flags.saveMasks,
        clicks,
        previewsDir: flags.previews,
        embeddingCacheDir,
        onCaseStart: (c, i, n) => {
          current = `[${i + 1}/${n}] ${c.name}`;
          bar = progressBar(!flags.quiet);
        },
        onProgress: (d, t, s) => bar.onProgress?.(d, t, s),
        onCase: (r) => {
          bar.stop();
          const clickText = r.clicks
            ? `  DSC after ${r.clicks.length} click(s) ${r.clicks[r.clicks.length - 1]!.dsc.toFixed(4)}  NoC85 ${r.noc85} NoC90 ${r.noc90}`
            : '';
          // A picture (one slice) has no slice extent; its distances are px unless it has a real spacing.
          const slices = r.refSlices
            ? `  slices ${r.predSlices ? r.predSlices.join('-') : 'none'} (reference ${r.refSlices.join('-')})`
            : '';
          log(
            `${current}  ${r.label !== undefined ? `label ${r.label}: ` : ''}DSC ${r.dsc.toFixed(4)}  NSD ${r.nsd.toFixed(4)}  HD95 ${r.hd95 === null ? '—' : `${r.hd95.toFixed(2)} ${r.unit ?? 'mm'}`}` +
              `${slices}${clickText}  ${r.seconds.toFixed(1)} s`,
          );
          bar = progressBar(!flags.quiet);
        },
        onSkip: (c, reason) => {
          bar.stop();
          log(`${current ? current + '  ' : ''}skipped ${c.name}: ${reason}`);
        },
      }),
    );
  } finally {
    bar.stop();
    interrupt.dispose();
  }
  process.stdout.write(formatReportTable(report) + '\n');
  process.stdout.write(
    `prompt ${prompt}, model ${model.id}, precision ${precision}, NSD tolerance ${report.nsdTolerance ?? 'per case'} ${unitText(report)}${clicks ? `, ${clicks} simulated click(s)` : ''}; wrote ${flags.out}/report.csv and report.json` +
      `${flags.previews ? `, montages in ${flags.previews}` : ''}\n`,
  );
}

export function addEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'segment every object of every case from a prompt simulated on its reference mask; report DSC, NSD, HD95, slice extent, and DSC per simulated click',
    )
    .argument(
      '<dir>',
      'folder of cases (MedSAM2 .npz with gts; image + label pairs x.nii.gz + x_seg.nii.gz, x.nrrd + x-label.nrrd, x_image + x_label; a DICOM folder x/ + x_seg.nii.gz; pictures x.png + x_mask.png, or images/x.jpg + masks/x.jpg) or a manifest .json {"cases":[{"image","label","labels"?}]}',
    )
    .requiredOption('--out <dir>', 'folder for report.csv and report.json')
    .option('--prompt <policy>', 'key-box | key-box-center | recist', 'key-box')
    .option(
      '--labels <all|1,5,7>',
      'reference labels to evaluate, each as its own object (default: all); a label no case holds is refused before any model work',
    )
    .option('--label <n>', 'evaluate only this label (same as --labels n)')
    .option('--clicks <K>', 'simulate K corrective clicks after the first prompt (DSC per click, NoC@85/90)', '0')
    .option(
      '--previews <dir>',
      'write a montage PNG per object: every slice with prediction (filled) or reference (outlined); a picture whole, at its size',
    )
    .option(
      '--embedding-cache <dir>',
      `keep slice embeddings of the default model here across runs (a cache; safe to delete; default $${EMBEDDING_CACHE_ENV} if set)`,
    )
    .option('--model <id>', 'model id from `medsam2 models list`', 'default')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)')
    .option('--precision <fp32|int8>', PRECISION_HELP, 'fp32')
    .option('--window <preset|W,L>', 'intensity window (see `segment --help`)', 'auto')
    .option('--tolerance <d>', "NSD tolerance in the case's unit: mm (default 2), or px for a PNG/JPEG picture (default 5)")
    .option('--save-masks', 'also write each prediction to <out>/masks/<case>[_label<n>].nii.gz')
    .option('-q, --quiet', 'no progress output')
    .action(async (dir: string, flags: EvalFlags) => runEval(dir, flags));
}
