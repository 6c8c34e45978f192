import type { Command } from 'commander';
import { listModels } from '../../models/registry.js';
import { addModelsImportCommand } from './modelsImport.js';

export function runModelsList(): void {
  const rows = listModels().map((m) => ({
    id: m.id + (m.aliases?.length ? ` (${m.aliases.join(', ')})` : ''),
    family: m.family,
    size: `${m.inputSize} px`,
    origin: m.origin ?? '',
    description: m.description,
  }));
  const w = Math.max(2, ...rows.map((r) => r.id.length));
  const out = [`${'id'.padEnd(w)}  family  input    source`];
  for (const r of rows) {
    out.push(`${r.id.padEnd(w)}  ${r.family.padEnd(6)}  ${r.size.padEnd(7)}  ${r.origin}`);
    out.push(`${' '.repeat(w)}  ${r.description}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

/**
 * `medsam2 models …`. Returns the `models` command so further subcommands can be attached to it
 * (the SAM2/MedSAM2 checkpoint importer adds `models import` here).
 */
export function addModelsCommand(program: Command): Command {
  const models = program.command('models').description('list the available models');
  models
    .command('list', { isDefault: true })
    .description('list built-in and imported models (default)')
    .action(() => runModelsList());
  addModelsImportCommand(models);
  return models;
}
