import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { MedsamError, errorMessage } from '../common/errors.js';
import { addEvalCommand } from './commands/eval.js';
import { addInfoCommand } from './commands/info.js';
import { addModelsCommand } from './commands/models.js';
import { addProjectCommand } from './commands/project.js';
import { addSegmentCommand } from './commands/segment.js';
import { addServeCommand } from './commands/serve.js';
import { addUsersCommand } from './commands/users.js';
import { addVideoCommand } from './commands/video.js';

function packageVersion(): string {
  try {
    // src/cli and dist/cli are both two levels below the package root.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('medsam2')
    .description('MedSAM2 promptable 3D medical image segmentation (ONNX Runtime, CPU)')
    .version(packageVersion(), '-V, --version')
    // Errors are printed once, in one format, by runCli.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  addInfoCommand(program);
  addSegmentCommand(program);
  addEvalCommand(program);
  addVideoCommand(program);
  addModelsCommand(program);
  addProjectCommand(program);
  addServeCommand(program);
  addUsersCommand(program);
  return program;
}

/**
 * Runs the CLI and returns the exit code: 0 ok; 2 user error (bad input, bad option) printed as
 * one line `medsam2: error: …`; 1 unexpected failure (a bug), without a stack trace unless
 * MEDSAM2_DEBUG is set.
 */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') return e.exitCode || 2;
      process.stderr.write(`medsam2: error: ${e.message.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, ' ')} — see medsam2 --help\n`);
      return 2;
    }
    if (e instanceof MedsamError) {
      process.stderr.write(`medsam2: error: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(
      `medsam2: unexpected error: ${errorMessage(e)} (this is probably a bug; rerun with MEDSAM2_DEBUG=1 for details and report it)\n`,
    );
    if (process.env.MEDSAM2_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return 1;
  }
}
