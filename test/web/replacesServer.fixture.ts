/**
 * Run by serverAndBrowser.test.ts in a child process (not a test file of its own): one test that
 * stops the shared server and starts another, as app.test.ts's "the server goes down" case does.
 * Its tearDown prints what it finds once the set-up has closed everything.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serve, serverAndBrowser } from './browser.js';

const urls: string[] = [];

async function answers(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(5000) }).then(
    () => true,
    () => false,
  );
}

const e2e = serverAndBrowser(false, {
  tearDown: async () => {
    const up = (await Promise.all(urls.map(answers))).filter(Boolean).length;
    process.stdout.write(`# at tearDown: browser connected ${e2e.browser.isConnected()}, servers answering ${up} of ${urls.length}\n`);
  },
});

test('the shared server is replaced mid-run', async () => {
  urls.push(e2e.server.url);
  await e2e.server.stop();
  assert.equal(await answers(urls[0]!), false, 'the first server is down');
  e2e.server = await serve();
  urls.push(e2e.server.url);
  assert.equal(await answers(e2e.server.url), true, 'the replacement answers');
});
