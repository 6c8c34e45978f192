import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export interface Interrupted {
  code: number | null;
  stderr: string;
  /** Whether `ready` matched and SIGINT was sent. */
  sent: boolean;
}

/**
 * Runs the CLI (through tsx, with `imports` preloaded) and sends SIGINT once its stderr matches
 * `ready`; resolves with the exit code and stderr. The Ctrl-C tests' one way to interrupt a command.
 */
export function interruptedCli(
  args: string[],
  ready: RegExp,
  opts: { imports?: string[]; env?: Record<string, string> } = {},
): Promise<Interrupted> {
  return new Promise((res, rej) => {
    const preload = ['tsx', ...(opts.imports ?? [])].flatMap((m) => ['--import', m]);
    const child = spawn(process.execPath, [...preload, join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, MEDSAM2_DEBUG: '', ...opts.env },
    });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (b) => {
      stderr += b;
      if (!sent && ready.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code, stderr, sent }));
  });
}

/** Exit 130, the one interrupted line, and the output folder as it was (`before`: its entries). */
export function assertInterrupted(r: Interrupted, out: string, before: string[]): void {
  assert.ok(r.sent, `the command never got ready: ${r.stderr}`);
  assert.equal(r.code, 130, r.stderr);
  const errors = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('medsam2:'));
  assert.deepEqual(errors, ['medsam2: error: interrupted (Ctrl-C) before any output was written — run the command again to redo it']);
  assert.deepEqual(readdirSync(out).sort(), before, 'the output folder is as it was');
}
