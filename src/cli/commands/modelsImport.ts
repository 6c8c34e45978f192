import type { Command } from 'commander';
import { importSam2Model, type ImportModelResult } from '../../models/node/importModel.js';

interface ImportFlags {
  config?: string;
  id?: string;
  force?: boolean;
  quiet?: boolean;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function formatImportSummary(r: ImportModelResult): string {
  const e = r.entry;
  const ident = r.zoo
    ? `zoo entry ${r.zoo.id} (${r.zooMatch === 'sha256' ? 'sha256 match' : 'by file name'})`
    : 'unknown checkpoint (not in the zoo)';
  const lines = [
    `imported ${e.id} (family sam2, ${e.inputSize} px)`,
    `  checkpoint  ${e.files.checkpoint} (${mb(e.checkpointBytes)}, sha256 ${e.sha256})`,
    `  identified  ${ident}`,
    `  config      ${e.configSource.startsWith('builtin:') ? `built-in ${e.configSource.slice(8)}` : e.configSource} -> ${e.files.config}`,
    `  graphs      ${r.fromCache ? 'from the graph cache (not rebuilt)' : 'compiled'}: ${mb(r.graphBytes)} in ${r.graphDir}`,
    `  registry    ${r.registryPath}`,
    `  licence     ${e.licence}`,
    `done in ${r.seconds.toFixed(1)} s; use it with --model ${e.id}`,
  ];
  return lines.join('\n') + '\n';
}

export async function runModelsImport(checkpoint: string, flags: ImportFlags): Promise<void> {
  // Progress only on a terminal, so a failed import prints exactly its one error line.
  const showProgress = !flags.quiet && process.stderr.isTTY === true;
  const r = await importSam2Model(checkpoint, {
    config: flags.config,
    id: flags.id,
    force: flags.force,
    log: showProgress ? (m) => process.stderr.write(`${m}\n`) : undefined,
  });
  // Warnings are always shown (even with --quiet): importing an unverified checkpoint must never be silent.
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(formatImportSummary(r));
}

/** `medsam2 models import <checkpoint> [--config] [--id] [--force]`, attached to the `models` command. */
export function addModelsImportCommand(models: Command): void {
  models
    .command('import')
    .description('import a SAM2 / MedSAM2 checkpoint: identify it, compile its ONNX graphs (cached) and register it')
    .argument('<checkpoint>', 'checkpoint file (.pt or .safetensors)')
    .option('--config <yaml|id>', 'model config: a SAM2 YAML path or a built-in id (required for checkpoints not in the zoo)')
    .option('--id <name>', 'model id to register (default: the zoo id, else the file name)')
    .option('--force', 'replace an existing model with the same id')
    .option('-q, --quiet', 'no progress lines (shown on a terminal only; warnings are always printed)')
    .action(async (checkpoint: string, flags: ImportFlags) => runModelsImport(checkpoint, flags));
}
