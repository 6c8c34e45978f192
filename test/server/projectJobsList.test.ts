/**
 * Project jobs share GET /jobs and DELETE /jobs/{id} with the segmentation jobs (a real server on
 * 127.0.0.1 with tokens). A segmentation job on the whole CT-lesion volume holds the model's one
 * long lane, so a pre-annotation submitted behind it waits queued: it is listed with its kind,
 * project name and id to its owner and the project's members (not to a stranger), a member who is
 * not a project admin may not cancel it (403), a stranger does not see it (404), its owner
 * cancels it, and it then never runs: the case stays new, and a later pre-annotation still finds
 * it to do. Then GET /jobs' filters on those three jobs: project (name or id), kind and status
 * (repeated or comma lists), limit pages newest first with a Link to the next page, and a wrong
 * parameter or value is a 400 naming it.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CT_LESION, SHARED_SKIP, call, croppedLesion, errorShape } from './harness.js';
import { serverPerFile } from '../helpers/serverHooks.js';

const fx = serverPerFile('medsam2-project-jobs-', SHARED_SKIP, { config: { requireAuth: true } });

describe('project jobs in GET /jobs and DELETE /jobs/{id}', { skip: SHARED_SKIP }, () => {
  it('listed with kind and project to members only; cancelled by its owner (a member annotator: 403, a stranger: 404); a cancelled job never runs', async () => {
    const boss = await fx.server.user('boss', 'admin');
    const ann = await fx.server.user('ann', 'annotator');
    const stranger = await fx.server.user('stranger', 'annotator');
    const ok = async (token: string, method: string, path: string, body?: unknown, status = 200): Promise<any> => {
      const r = await call(fx.server.url, method, path, { token, body });
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body).slice(0, 300)}`);
      return r.body;
    };
    await ok(boss, 'POST', '/projects', { name: 'jobs-p', labels: [{ value: 1, name: 'lesion' }] }, 201);
    await ok(boss, 'PUT', '/projects/jobs-p/members/ann', { role: 'annotator' });
    const crop = await croppedLesion(fx.dir);
    const cropUp = await ok(boss, 'POST', '/uploads?name=crop.npz', new Uint8Array(readFileSync(crop.path)), 201);
    const [kase] = await ok(boss, 'POST', '/projects/jobs-p/cases', { uploadIds: [cropUp.id] }, 201);

    // The whole 16-slice volume keeps the model's long lane busy for seconds.
    const full = await ok(boss, 'POST', '/uploads?name=full.npz', new Uint8Array(readFileSync(CT_LESION)), 201);
    const seg = await ok(boss, 'POST', '/jobs', { uploadId: full.id, policy: 'key-box' }, 202);
    const pre = await ok(boss, 'POST', '/projects/jobs-p/pre-annotate', { source: 'recist' }, 202);

    const listed = (await ok(boss, 'GET', '/jobs')) as any[];
    assert.deepEqual(
      listed.map((j) => j.id),
      [seg.id, pre.jobId],
      'both jobs, oldest first',
    );
    const pj = listed[1];
    assert.equal(pj.kind, 'pre-annotate');
    assert.equal(pj.project, 'jobs-p');
    assert.match(pj.projectId, /^[0-9a-f-]{36}$/);
    assert.equal(pj.status, 'queued', 'waits behind the segmentation job');
    assert.equal(listed[0].kind, undefined, 'a segmentation job has no kind');

    // A member sees it; a stranger neither lists nor reads nor cancels it.
    assert.deepEqual(
      ((await ok(ann, 'GET', '/jobs')) as any[]).map((j) => j.id),
      [pre.jobId],
    );
    assert.deepEqual(await ok(stranger, 'GET', '/jobs'), []);
    const hidden = await call(fx.server.url, 'GET', `/jobs/${pre.jobId}`, { token: stranger });
    assert.equal(hidden.status, 404);
    const strangerCancel = await call(fx.server.url, 'DELETE', `/jobs/${pre.jobId}`, { token: stranger });
    assert.equal(strangerCancel.status, 404);
    errorShape(strangerCancel);
    const memberCancel = await call(fx.server.url, 'DELETE', `/jobs/${pre.jobId}`, { token: ann });
    assert.equal(memberCancel.status, 403);
    assert.match(errorShape(memberCancel), /may not cancel job/);

    const cancelled = await ok(boss, 'DELETE', `/jobs/${pre.jobId}`);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.kind, 'pre-annotate');
    assert.equal((await ok(ann, 'GET', `/jobs/${pre.jobId}`)).status, 'cancelled');
    // Cancelling again leaves it as it is.
    assert.equal((await ok(boss, 'DELETE', `/jobs/${pre.jobId}`)).status, 'cancelled');

    // A later pre-annotation queues behind the cancelled one (one lane, first come first served):
    // when it is done, the cancelled job has had its turn, and the case was still new for it.
    const again = await ok(boss, 'POST', '/projects/jobs-p/pre-annotate', { source: 'recist' }, 202);
    let j: any;
    for (let i = 0; i < 3000; i++) {
      j = await ok(boss, 'GET', `/jobs/${again.jobId}`);
      if (j.status !== 'queued' && j.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(j.status, 'done', JSON.stringify(j));
    assert.equal(j.result.cases, 1, 'the case was left new by the cancelled job');
    const after = (await ok(boss, 'GET', '/jobs')) as any[];
    assert.deepEqual(
      after.map((x) => [x.id, x.status]),
      [
        [seg.id, 'done'],
        [pre.jobId, 'cancelled'],
        [again.jobId, 'done'],
      ],
    );
    const c = await ok(ann, 'GET', `/projects/jobs-p/cases/${kase.name}`);
    assert.equal(c.case.status, 'pre_annotated');

    // Filters (in the queries): project (id or name), kind and status (repeated or a comma list).
    const ids = async (token: string, query: string) => ((await ok(token, 'GET', `/jobs?${query}`)) as any[]).map((x) => x.id);
    assert.deepEqual(await ids(boss, 'kind=pre-annotate'), [pre.jobId, again.jobId]);
    assert.deepEqual(await ids(boss, 'kind=segment'), [seg.id]);
    assert.deepEqual(await ids(boss, 'kind=segment,pre-annotate&status=done'), [seg.id, again.jobId]);
    assert.deepEqual(await ids(boss, 'kind=segment&kind=export&status=done'), [seg.id]);
    assert.deepEqual(await ids(boss, 'status=cancelled'), [pre.jobId]);
    assert.deepEqual(await ids(boss, 'project=jobs-p'), [pre.jobId, again.jobId], 'a project: its jobs, no segmentation job');
    assert.deepEqual(await ids(ann, `project=${pj.projectId}&status=done`), [again.jobId], 'by id, for a member');
    assert.deepEqual(await ids(stranger, 'project=jobs-p'), [], 'a stranger sees none of the project');
    // Paging: newest first, a Link to the next page while a page is full.
    const first = await call(fx.server.url, 'GET', '/jobs?limit=2', { token: boss });
    assert.deepEqual(
      (first.body as any[]).map((x) => x.id),
      [again.jobId, pre.jobId],
    );
    const next = /^<([^>]+)>; rel="next"$/.exec(first.headers.get('link') ?? '')?.[1];
    assert.equal(next, `/jobs?limit=2&before=${pre.jobId}`);
    const last = await call(fx.server.url, 'GET', next!, { token: boss });
    assert.deepEqual(
      (last.body as any[]).map((x) => x.id),
      [seg.id],
    );
    assert.equal(last.headers.get('link'), null, 'the last page links nowhere');
    assert.deepEqual(await ids(ann, `limit=1&before=${again.jobId}`), [pre.jobId]);
    // Wrong filters: one line naming the parameter and what it takes.
    for (const [query, status, re] of [
      ['kind=bogus', 400, /^unknown job kind 'bogus'$/],
      ['status=done,asleep', 400, /^unknown job status 'asleep'$/],
      ['state=running', 400, /^unknown query parameter 'state' for GET \/jobs$/],
      [`before=${seg.id}`, 400, /^before pages a newest-first list and needs limit$/],
      ['limit=0', 400, /limit/],
      ['project=nope', 404, /^no project nope$/],
    ] as const) {
      const r = await call(fx.server.url, 'GET', `/jobs?${query}`, { token: boss });
      assert.equal(r.status, status, `${query}: ${JSON.stringify(r.body)}`);
      assert.match(errorShape(r), re, query);
    }
  });
});
