/**
 * Hostile input to `medsam2 project …` (added after test/hostile/hostile.test.ts): a project on a
 * 3-slice crop of the CT-lesion case with one saved version, then outputs aimed at the case's own
 * image or at folders that are not new, masks on another grid or with a label the project lacks,
 * versions that do not exist, unusable names. Each must exit 2 (a stale base: 3) with exactly one
 * `medsam2: error:` line naming the problem and a fix, leave every file byte-identical and the
 * folder listing unchanged (no half export, no hidden staging folder), and add no version.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { writeMask } from '../../src/io/writeMask.js';
import { runCli } from '../helpers/cli.js';
import { SHARED_SKIP, croppedLesion } from '../server/harness.js';

if (SHARED_SKIP) process.stdout.write(`# skipping the hostile project CLI test: ${SHARED_SKIP}\n`);

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'medsam2-hostile-project-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every file and folder under `root` with the sha256 of each file. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) {
        out.push(`${relative(root, p)}/`);
        walk(p);
      } else if (!/\.db(-wal|-shm)$/.test(n))
        out.push(`${relative(root, p)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(root);
  return out;
}

describe('hostile input to medsam2 project', { skip: SHARED_SKIP }, () => {
  it('each is refused with one line and a fix, nothing written, no version added', { timeout: 240_000 }, async () => {
    mkdirSync(join(dir, 'cases'));
    const crop = await croppedLesion(join(dir, 'cases'), 1);
    const image = (await readNpzCase(crop.path)).image;
    const env = { ...process.env, MEDSAM2_PROJECT_DB: `sqlite:${join(dir, 'p.db')}` };
    const ok = (args: string[]) => {
      const r = runCli(['project', ...args], env);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    ok(['create', '--name', 'p', '--label', 'lesion:#ff3b30', '--member', 'alice:annotator']);
    const added = ok(['add-cases', crop.path, '--mode', 'manual']);
    const name = /: (\S+)\s*$/.exec(added)![1]!;
    ok(['claim', name, '--user', 'alice']);
    const mask = (file: string, value: number, dims = image.dims) => {
      const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
      data.fill(value, 0, 64);
      const vol = { ...image, dims: [...dims] as [number, number, number], data };
      return writeMask(join(dir, file), vol, vol);
    };
    await mask('good.nii.gz', 1);
    await mask('label77.nii.gz', 77);
    await mask('grid.nii.gz', 1, [image.dims[0], image.dims[1], image.dims[2] + 1]);
    ok(['save', name, '--user', 'alice', '--mask', join(dir, 'good.nii.gz'), '--base', '-1']);
    mkdirSync(join(dir, 'full'));
    writeFileSync(join(dir, 'full', 'mine.txt'), 'keep me');
    writeFileSync(join(dir, 'notes.txt'), 'keep me too');
    const versions = ok(['versions', name]);

    const hostile: [string, string[], RegExp][] = [
      ['show onto the case image', ['show', name, '-o', crop.path], /would overwrite the input file/],
      ['show to an unsupported extension', ['show', name, '-o', join(dir, 'x.txt')], /unsupported extension/],
      [
        'save a mask on another grid',
        ['save', name, '--user', 'alice', '--mask', join(dir, 'grid.nii.gz'), '--base', '0'],
        /is \d+x\d+x\d+, case .* is/,
      ],
      ['save a label the project lacks', ['save', name, '--user', 'alice', '--mask', join(dir, 'label77.nii.gz'), '--base', '0'], /77/],
      [
        'save a mask that does not exist',
        ['save', name, '--user', 'alice', '--mask', join(dir, 'nope.nii.gz'), '--base', '0'],
        /nope\.nii\.gz/,
      ],
      ['save on a stale base', ['save', name, '--user', 'alice', '--mask', join(dir, 'good.nii.gz'), '--base', '-1'], /version/],
      ['export into a folder with files', ['export', '--round', '1', '--out', join(dir, 'full')], /not a new or empty folder/],
      ['export onto a file', ['export', '--round', '1', '--out', join(dir, 'notes.txt')], /not a new or empty folder/],
      ['report into a folder with files', ['report', '--out', join(dir, 'full')], /not a new or empty folder/],
      ['report under a missing folder', ['report', '--out', join(dir, 'missing', 'r')], /does not exist/],
      ['restore a version that does not exist', ['restore', name, '9', '--user', 'alice', '--base', '0'], /9/],
      ['diff with a version that does not exist', ['diff', name, '0', '9'], /9/],
      ['a case that does not exist', ['versions', '../../etc/passwd'], /passwd/],
      ['a project name with a path', ['create', '--name', '../evil', '--label', 'a'], /project name '\.\.\/evil' is not usable/],
      ['a label colour that is not one', ['create', '--name', 'q', '--label', 'a:red'], /colour/],
    ];
    const before = snapshot(dir);
    const problems: string[] = [];
    for (const [what, args, message] of hostile) {
      const r = runCli(['project', ...args], env);
      const lines = r.stderr.trim().split('\n').filter(Boolean);
      const p: string[] = [];
      // A conflict (stale base) is exit 3, as documented; every other refusal is a user error, 2.
      if (r.code !== (what.includes('stale') ? 3 : 2)) p.push(`exit ${r.code}`);
      if (lines.length !== 1 || !lines[0]!.startsWith('medsam2: error: ')) p.push(`want one error line, got ${JSON.stringify(r.stderr)}`);
      else if (!message.test(lines[0]!)) p.push(`${JSON.stringify(lines[0])} does not match ${message}`);
      else if (!/ — \S/.test(lines[0]!)) p.push('no fix');
      if (/\bat .*\.(ts|js):\d+/.test(r.stderr)) p.push('stack trace');
      const now = snapshot(dir);
      if (now.join('\n') !== before.join('\n'))
        p.push(
          `files changed: +${now.filter((x) => !before.includes(x)).join(', ')} -${before.filter((x) => !now.includes(x)).join(', ')}`,
        );
      if (p.length) problems.push(`${what}: ${p.join('; ')}`);
    }
    assert.deepEqual(problems, []);
    assert.equal(ok(['versions', name]), versions, 'no version was added');
  });
});
