import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { freePort } from '../helpers/freePort.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throw-away PostgreSQL for tests: Debian's binaries (.ci/setup.d/50-postgres.sh installs
 * them), `initdb` in a temp dir, `pg_ctl start` on 127.0.0.1 and a free port with a bounded wait,
 * `stop()` shuts it down immediately and removes the dir. As root (CI containers) the server runs
 * as the `postgres` user, since PostgreSQL refuses to run as root.
 */
export interface TestPostgres {
  url: string;
  stop(): void;
}

function binDir(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return join(which.stdout.trim(), '..');
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  return v && existsSync(join(root, v, 'bin', 'initdb')) ? join(root, v, 'bin') : undefined;
}

/** Starts a server, or returns a sentence saying why it cannot (the test then skips with it). */
export async function startTestPostgres(): Promise<TestPostgres | string> {
  const bin = binDir();
  if (!bin) return 'PostgreSQL binaries (initdb, pg_ctl) not found — run .ci/setup.d/50-postgres.sh';
  const asRoot = process.getuid?.() === 0;
  let uid = -1,
    gid = -1;
  if (asRoot) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0) return 'running as root and there is no postgres user to run PostgreSQL as';
    uid = Number(id.stdout.trim());
    gid = Number(g.stdout.trim());
  }
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-pg-'));
  const data = join(dir, 'data');
  if (asRoot) chownSync(dir, uid, gid);
  const run = (tool: string, args: string[], timeoutMs: number) => {
    const cmd = asRoot ? 'runuser' : join(bin, tool);
    const full = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    return execFileSync(cmd, full, { stdio: 'pipe', timeout: timeoutMs, cwd: dir });
  };
  const port = await freePort();
  try {
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'medsam2', '--no-sync', '-E', 'UTF8'], 60_000);
    run(
      'pg_ctl',
      [
        '-D',
        data,
        '-l',
        join(dir, 'log'),
        '-w',
        '-t',
        '30',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        'start',
      ],
      40_000,
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `PostgreSQL did not start: ${(e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop() ?? (e as Error).message}`;
  }
  return {
    url: `postgres://medsam2@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '20', 'stop'], 30_000);
      } catch {
        /* already gone */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
