import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root and the CLI entry, as the tests run it (through tsx, no build needed). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `medsam2 <args>` in a child process (MEDSAM2_DEBUG cleared so user errors carry no stack). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...env, MEDSAM2_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit 2, exactly one `medsam2: error:` line matching `message`, no stack trace, no output at `out`. */
export function assertUserError(r: CliResult, message: RegExp, out?: string): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one error line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^medsam2: error: /);
  assert.match(lines[0]!, message);
  assert.doesNotMatch(r.stderr, /\bat .*\.(ts|js):\d+/);
  if (out) assert.equal(existsSync(out), false, `${out} must not exist after a failed run`);
}
