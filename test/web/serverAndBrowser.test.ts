/**
 * The browser tests' shared set-up (browser.ts serverAndBrowser): a file whose test stops the
 * shared server and starts another exits by itself once its tests end, with Chromium and every
 * server closed before its tearDown. Session 8's app.test.ts hung there (the replacement server,
 * never stopped, kept the process alive). The file runs in a child process, bounded in time.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, skipReason } from './browser.js';

const skip = skipReason();
if (skip) process.stdout.write(`# skipping the set-up test: ${skip}\n`);

test('a browser test file that replaces its server mid-run still exits, everything closed', { skip, timeout: 300_000 }, async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './test/helpers/nodePlatform.ts', join('test/web/replacesServer.fixture.ts')],
    // Without the runner's variable the child runs its test itself instead of taking it as nested.
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  // Generous: Chromium starts slowly on a loaded machine; a hang never ends, so any bound tells.
  const LIMIT = 240_000;
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`still running after ${LIMIT / 1000} s`);
    }, LIMIT);
    child.on('exit', (c, sig) => {
      clearTimeout(timer);
      resolve(c ?? String(sig));
    });
  });
  assert.equal(code, 0, `the file did not exit cleanly (${code}):\n${out.slice(-3000)}`);
  assert.match(out, /# at tearDown: browser connected false, servers answering 0 of 2/, out.slice(-3000));
});
