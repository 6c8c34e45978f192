import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * How runCli starts `medsam2`: the built `dist/cli/main.js` (what `npx medsam2` runs) when
 * scripts/runTests.sh found dist/ built after every file of src/ (it sets MEDSAM2_TEST_BUILT_CLI=1),
 * else src/cli/main.ts through tsx (no build needed). The built entry starts on about half the CPU
 * (no TypeScript transform of the CLI's modules in each child), and a test run starts dozens.
 */
const CLI_ENTRY =
  process.env.MEDSAM2_TEST_BUILT_CLI === '1' ? [join(ROOT, 'dist/cli/main.js')] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `medsam2 <args>` in a child process (MEDSAM2_DEBUG cleared so user errors carry no stack).
 * In an `npm test` run the child keeps the default model's slice embeddings in the run's shared
 * cache (MEDSAM2_EMBEDDING_CACHE = MEDSAM2_TEST_EMBEDDING_CACHE, see runEmbeddingCache.ts): these
 * tests check what the commands write and print, not the encoder (test/parity and test/engine do),
 * and the shared cases they segment are encoded by other files of the run too. An `env` that names
 * MEDSAM2_EMBEDDING_CACHE itself (empty: none) keeps its own.
 */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  const cache = env.MEDSAM2_EMBEDDING_CACHE ?? process.env.MEDSAM2_TEST_EMBEDDING_CACHE;
  const r = spawnSync(process.execPath, [...CLI_ENTRY, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...env, MEDSAM2_DEBUG: '', ...(cache ? { MEDSAM2_EMBEDDING_CACHE: cache } : {}) },
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
