import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { MedsamError, errorMessage } from '../common/errors.js';

function packageVersion(): string {
  try {
    // src/cli and dist/cli are both two levels below the package root.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * The commands in help order, each module imported when needed: a run loads only the command it
 * names, so `medsam2 users …` or `medsam2 serve` does not first load the readers and pipelines of
 * every other command (about 0.9 s of CPU per start; the CLI tests start it a hundred times).
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  info: async () => (await import('./commands/info.js')).addInfoCommand,
  segment: async () => (await import('./commands/segment.js')).addSegmentCommand,
  eval: async () => (await import('./commands/eval.js')).addEvalCommand,
  video: async () => (await import('./commands/video.js')).addVideoCommand,
  models: async () => (await import('./commands/models.js')).addModelsCommand,
  project: async () => (await import('./commands/project.js')).addProjectCommand,
  serve: async () => (await import('./commands/serve.js')).addServeCommand,
  users: async () => (await import('./commands/users.js')).addUsersCommand,
};

/**
 * The program with the command `only` names, or with every command when `only` names none (help,
 * --version, an unknown or misspelt command: those answers list or match against all of them).
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('medsam2')
    .description('MedSAM2 promptable 3D medical image segmentation (ONNX Runtime, CPU)')
    .version(packageVersion(), '-V, --version')
    // Errors are printed once, in one format, by runCli.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  for (const add of await Promise.all(names.map((n) => COMMANDS[n]!()))) add(program);
  return program;
}

/**
 * Runs the CLI and returns the exit code: 0 ok; 2 user error (bad input, bad option) printed as
 * one line `medsam2: error: …`; 1 unexpected failure (a bug), without a stack trace unless
 * MEDSAM2_DEBUG is set.
 */
export async function runCli(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv[2]);
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
