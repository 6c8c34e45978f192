import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { startTestServer, type TestServer } from '../server/harness.js';

export interface ServerFixture {
  /** The real server on 127.0.0.1 (set by the before hook; unset when skipped). */
  server: TestServer;
  /** A fresh temp folder for the file's own files. */
  dir: string;
}

/**
 * The before/after hooks most server test files share: a fresh temp folder and, unless `skip`
 * says why not, a real server on 127.0.0.1 (state in its own temp folder); both removed after
 * the file's tests. Read `.server` and `.dir` inside tests, once the before hook has run.
 */
export function serverPerFile(prefix: string, skip: string | false = false): ServerFixture {
  const fx = { dir: '' } as ServerFixture;
  before(async () => {
    fx.dir = mkdtempSync(join(tmpdir(), prefix));
    if (!skip) fx.server = await startTestServer();
  });
  after(async () => {
    await fx.server?.stop();
    rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}
