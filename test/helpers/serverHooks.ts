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
 * says why not, `opts.setUp` (the file's own inputs, made in that folder) and a real server on
 * 127.0.0.1 (state in its own temp folder; `opts.config` patches its configuration); both removed
 * after the file's tests. Read `.server` and `.dir` inside tests, once the before hook has run.
 */
export function serverPerFile(
  prefix: string,
  skip: string | false = false,
  opts: { config?: Parameters<typeof startTestServer>[0]; setUp?: (dir: string) => unknown } = {},
): ServerFixture {
  const fx = { dir: '' } as ServerFixture;
  before(async () => {
    fx.dir = mkdtempSync(join(tmpdir(), prefix));
    if (skip) return;
    await opts.setUp?.(fx.dir);
    fx.server = await startTestServer(opts.config);
  });
  after(async () => {
    await fx.server?.stop();
    rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}
