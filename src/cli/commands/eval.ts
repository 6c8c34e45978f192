import type { Command } from 'commander';
import { parsePrecision } from '../../models/precision.js';
import { resolveModel } from '../../models/registry.js';
import { parseWindow } from '../../preprocess/intensity.js';
import { evaluateFolder, findCases, formatReportTable } from '../../pipelines/evaluate.js';
import { parsePromptPolicy } from '../../pipelines/referencePrompt.js';
import { PRECISION_HELP } from '../modelOptions.js';
import { join } from 'node:path';
import { guardOutputs } from '../outputPaths.js';
import { parseIndex, parsePositiveInt, parsePositiveNumber } from '../parseArgs.js';
import { progressBar } from '../progress.js';

interface EvalFlags {
  out: string;
  prompt: string;
  label?: string;
  model: string;
  threads?: string;
  precision: string;
  window: string;
  tolerance: string;
  saveMasks?: boolean;
  quiet?: boolean;
}

export async function runEval(dir: string, flags: EvalFlags): Promise<void> {
  const log = (s: string) => { if (!flags.quiet) process.stderr.write(s + '\n'); };
  const prompt = parsePromptPolicy(flags.prompt);
  const label = flags.label !== undefined ? parseIndex('--label', flags.label) : undefined;
  const threads = flags.threads !== undefined ? parsePositiveInt('--threads', flags.threads) : undefined;
  const precision = parsePrecision(flags.precision);
  const tolerance = parsePositiveNumber('--tolerance', flags.tolerance);
  const window = parseWindow(flags.window);
  const model = resolveModel(flags.model);
  findCases(dir); // fail fast on an empty/missing folder, before any model work
  guardOutputs([dir], [
    { flag: '--out', path: join(flags.out, 'report.csv') },
    { flag: '--out', path: join(flags.out, 'report.json') },
    ...(flags.saveMasks ? [{ flag: '--save-masks', path: join(flags.out, 'masks'), kind: 'folder' as const }] : []),
  ]);

  // A case's line is printed when it is done (with its scores or skip reason), so a failure
  // on a case prints the error alone, not a progress line followed by the error.
  let current = '';
  let bar = progressBar(false);
  const report = await evaluateFolder(dir, {
    outDir: flags.out, prompt, label, model: model.id, threads, precision, tolerance, window, saveMasks: flags.saveMasks,
    onCaseStart: (c, i, n) => {
      current = `[${i + 1}/${n}] ${c.name}`;
      bar = progressBar(!flags.quiet);
    },
    onProgress: (d, t, s) => bar.onProgress?.(d, t, s),
    onCase: (r) => {
      bar.stop();
      log(`${current}  DSC ${r.dsc.toFixed(4)}  NSD ${r.nsd.toFixed(4)}  HD95 ${r.hd95 === null ? '—' : r.hd95.toFixed(2) + ' mm'}  ${r.seconds.toFixed(1)} s`);
    },
    onSkip: (c, reason) => { bar.stop(); log(`${current}  skipped: ${reason}`); },
  });
  process.stdout.write(formatReportTable(report) + '\n');
  process.stdout.write(`prompt ${prompt}, model ${model.id}, precision ${precision}, NSD tolerance ${tolerance} mm; wrote ${flags.out}/report.csv and report.json\n`);
}

export function addEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('segment every case of a folder from a prompt simulated on its reference mask and report DSC, NSD, HD95')
    .argument('<dir>', 'folder of MedSAM2 .npz cases (imgs + gts) or image + label pairs (x.nii.gz + x_seg.nii.gz)')
    .requiredOption('--out <dir>', 'folder for report.csv and report.json')
    .option('--prompt <policy>', 'key-box | key-box-center | recist', 'key-box')
    .option('--label <n>', 'evaluate this label of the reference (default: any non-zero)')
    .option('--model <id>', 'model id from `medsam2 models list`', 'default')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)')
    .option('--precision <fp32|int8>', PRECISION_HELP, 'fp32')
    .option('--window <preset|W,L>', 'intensity window (see `segment --help`)', 'auto')
    .option('--tolerance <mm>', 'NSD tolerance in mm', '2')
    .option('--save-masks', 'also write each prediction to <out>/masks/<case>.nii.gz')
    .option('-q, --quiet', 'no progress output')
    .action(async (dir: string, flags: EvalFlags) => runEval(dir, flags));
}
