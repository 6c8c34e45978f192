import type { Command } from 'commander';
import { describeVolume } from '../../io/describeVolume.js';
import type { Volume } from '../../io/volume.js';
import { chooseWindow, describeWindow } from '../../preprocess/intensity.js';
import { loadCase } from '../../pipelines/loadCase.js';
import { maskSize } from '../maskSize.js';
import { addReadOptions, parseReadOptions, type ReadFlags } from '../parseArgs.js';

function labelSummary(what: string, v: Volume): string {
  const counts = new Map<number, number>();
  for (let i = 0; i < v.data.length; i++) {
    const x = Number(v.data[i]);
    if (x !== 0) counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  if (counts.size === 0) return `${what}: empty`;
  const parts = [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .slice(0, 20)
    .map(([l, n]) => `label ${l}: ${maskSize(n, v)}`);
  return `${what}: ${parts.join('; ')}${counts.size > 20 ? `; … ${counts.size - 20} more labels` : ''}`;
}

export async function runInfo(file: string, flags: ReadFlags = {}): Promise<void> {
  const c = await loadCase(file, parseReadOptions(flags));
  const lines = [describeVolume(c.image)];
  const w = chooseWindow(c.image);
  lines.push(`auto window:  ${describeWindow(w.window)} (${w.reason})`);
  if (c.label) lines.push(labelSummary('reference (gts)', c.label));
  if (c.recist) lines.push(labelSummary('RECIST lines', c.recist));
  process.stdout.write(lines.join('\n') + '\n');
}

export function addInfoCommand(program: Command): void {
  addReadOptions(
    program
      .command('info')
      .description('print dimensions, spacing, orientation, datatype and intensity range of an image')
      .argument('<file>', 'image file or DICOM folder'),
  ).action(async (file: string, flags: ReadFlags) => runInfo(file, flags));
}
