import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dice } from '../../src/metrics/dice.js';
import { preAnnotateRound } from '../../src/projects/preAnnotate.js';
import { ProjectService } from '../../src/projects/projectService.js';
import { startTestPostgres, type TestPostgres } from './postgresServer.js';
import { LESION_DIR, cropLesionCases, runRound } from './simulatedRound.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

const skip = !existsSync(LESION_DIR) && 'needs ../shared/data/ct-lesion';

describe('a whole annotation round (2 annotators, 1 reviewer, CT lesions)', { skip }, () => {
  let dir = '';
  let files: string[] = [];
  let preMasks: Map<string, Uint8Array> | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medsam2-projects-'));
    files = await cropLesionCases(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('on SQLite, pre-annotated by the real model', async () => {
    const svc = await ProjectService.open({ db: `sqlite:${join(dir, 'p.db')}` });
    try {
      const r = await runRound(svc, files, join(dir, 'sqlite'), async (p) => {
        assert.equal(await preAnnotateRound(svc, p, { prompts: 'recist', threads: 2 }), 2);
      });
      preMasks = r.preMasks;
      // Round 2 on the same image, prompted by round 1's accepted label.
      const [again] = await svc.addCases(r.project, [files[1]!], { round: 2 });
      assert.match(again!.name, /-r2$/);
      assert.equal(await preAnnotateRound(svc, r.project, { round: 2, prompts: 'previous', modelVersion: 'r1-finetune', threads: 2 }), 1);
      const v0 = await svc.mask(r.project, again!.name, 0);
      assert.deepEqual(v0.version.author, { kind: 'model', model: 'minisam', version: 'r1-finetune' });
      const first = (await svc.repo.listCases(r.project.id, { round: 1 })).find((c) => c.source === again!.source)!;
      assert.ok(dice(v0.labels, (await svc.mask(r.project, first.name)).labels) > 0.5);
      // The model's pre-annotation of a lesion is a real segmentation, not noise.
      for (const [name, dsc] of r.expected.preDsc) assert.ok(dsc > 0.5, `${name}: pre-annotation DSC ${dsc}`);
    } finally {
      await svc.close();
    }
  });

  test('on PostgreSQL (a server started here on 127.0.0.1)', async (t) => {
    const pg: TestPostgres | string = await startTestPostgres();
    if (typeof pg === 'string') {
      t.skip(pg);
      return;
    }
    try {
      // Two processes' worth of services migrating a fresh database at once: one migrates, both work.
      const [svc, other] = await Promise.all([0, 1].map(() => ProjectService.open({ db: pg.url, store: join(dir, 'pg-store') })));
      await other!.close();
      try {
        await runRound(svc!, files, join(dir, 'postgres'), async (p) => {
          assert.ok(preMasks, 'the SQLite round ran first');
          for (const [name, labels] of preMasks!) await svc!.storePreAnnotation(p, name, labels, p.model, p.modelVersion);
        });
      } finally {
        await svc!.close();
      }
    } finally {
      pg.stop();
    }
  });
});
