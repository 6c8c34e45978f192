import type { Command } from 'commander';

export const PRECISION_HELP =
  'fp32 (exact, default) or int8: fast mode, linear layers as dynamic int8 GEMMs (not exact; see BENCHMARKS.md)';

/** Options every model-running command shares, declared once so their wording and defaults agree. */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <id>', 'model id from `medsam2 models list`', 'default')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)')
    .option('--precision <fp32|int8>', PRECISION_HELP, 'fp32')
    .option('--memory <recent|self-sorting>', 'SAM2 models: memory bank policy (upstream recent frames, or Medical-SAM2 self-sorting)');
}
