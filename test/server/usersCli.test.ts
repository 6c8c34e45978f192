import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TokenVerifier } from '../../src/server/auth.js';
import { SqliteRepository } from '../../src/server/store/sqliteRepository.js';
import { assertUserError, runCli } from '../helpers/cli.js';

describe('medsam2 users / serve refusals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-users-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('users add prints a working token once and stores only its salted hash', async () => {
    const r = runCli(['users', 'add', 'alice', '--role', 'annotator', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    const token = /^(ms2_\S+)$/m.exec(r.stdout)?.[1];
    assert.ok(token, r.stdout);
    const repo = new SqliteRepository(join(dir, 'medsam2.sqlite'));
    try {
      const p = await new TokenVerifier(repo).verify(token);
      assert.deepEqual(p && { name: p.name, role: p.role }, { name: 'alice', role: 'annotator' });
      const u = (await repo.listUsers())[0]!;
      // The secret is everything after ms2_<16 hex>_ (it may itself contain '_').
      const secret = token.slice('ms2_'.length + 16 + 1);
      assert.equal(secret.length, 43, token);
      assert.ok(!JSON.stringify(u).includes(secret), 'the secret is not stored');
    } finally {
      await repo.close();
    }
    assertUserError(runCli(['users', 'add', 'alice', '--role', 'viewer', '--data-dir', dir]), /user 'alice' already exists/);
    assertUserError(runCli(['users', 'add', 'bob', '--role', 'boss', '--data-dir', dir]), /unknown role 'boss'/);
    assertUserError(runCli(['users', 'add', '../x', '--role', 'viewer', '--data-dir', dir]), /user name '\.\.\/x' is not allowed/);
    const list = runCli(['users', 'list', '--data-dir', dir]);
    assert.match(list.stdout, /^alice\tannotator\t/m);
  });

  it('serve refuses a non-loopback bind when no user exists (and never binds)', () => {
    const empty = join(dir, 'empty');
    assertUserError(
      runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', empty]),
      /binding to 0\.0\.0\.0 requires auth, and .* has no users — create one first: medsam2 users add/,
    );
    assertUserError(runCli(['serve', '--port', '70000', '--data-dir', empty]), /--port 70000 is not a port number/);
    assertUserError(runCli(['serve', '--models', 'nosuchmodel', '--port', '0', '--data-dir', empty]), /nosuchmodel/);
  });
});
