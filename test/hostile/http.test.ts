/**
 * Hostile requests to what the server gained after test/hostile/hostile.test.ts (CLI inputs) was
 * written: the edits endpoint, video batch jobs, project creation, label-map (version) saves,
 * interaction logs, exports, and path-like names anywhere a client names something. Over real
 * HTTP on 127.0.0.1, each must be a 4xx with one line naming the problem and a fix
 * (`{error, fix}`), and leave nothing behind: no version, no job, no project, no new file in the
 * data folder (paths a client names are never paths on disk).
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { KVASIR_SKIP, polypClipMp4 } from '../pipelines/syntheticVideo.js';
import { SHARED_SKIP, call, croppedLesion, errorShape } from '../server/harness.js';
import { serverPerFile } from '../helpers/serverHooks.js';

const SKIP = SHARED_SKIP || KVASIR_SKIP;
if (SKIP) process.stdout.write(`# skipping the hostile HTTP test: ${SKIP}\n`);

const fx = serverPerFile('medsam2-hostile-http-', SKIP);

/** Every file under `root` (relative paths), to prove a refused request stored nothing. */
function files(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/\.sqlite(-wal|-shm)?$/.test(n)) out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

interface Hostile {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  status: number | [number, number];
  message: RegExp;
}

describe('hostile HTTP requests to edits, video jobs, projects, saves and exports', { skip: SKIP }, () => {
  it('each is a 4xx with one line and a fix, and nothing is stored', { timeout: 240_000 }, async () => {
    const crop = await croppedLesion(fx.dir, 1);
    const up = await call(fx.server.url, 'POST', '/uploads?name=case.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const [X, Y, Z] = up.body.dims as number[];
    mkdirSync(join(fx.dir, 'v'));
    const { mp4 } = await polypClipMp4(join(fx.dir, 'v'), 3);
    const vid = await call(fx.server.url, 'POST', '/uploads?name=clip.mp4', { body: new Uint8Array(readFileSync(mp4)) });
    assert.equal(vid.status, 201, JSON.stringify(vid.body));
    const sess = await call(fx.server.url, 'POST', '/sessions', { body: { uploadId: up.body.id } });
    assert.equal(sess.status, 201, JSON.stringify(sess.body));
    const sid = sess.body.id as string;
    const proj = await call(fx.server.url, 'POST', '/projects', { body: { name: 'p', labels: [{ value: 1, name: 'lesion' }] } });
    assert.equal(proj.status, 201, JSON.stringify(proj.body));
    const cases = await call(fx.server.url, 'POST', '/projects/p/cases', { body: { uploadIds: [up.body.id] } });
    assert.equal(cases.status, 201, JSON.stringify(cases.body));
    const C = cases.body[0].name as string;
    const full = { size: [Z * Y, X], counts: [Z * Y * X] };

    const before = files(fx.server.dataDir);

    const cases_: Hostile[] = [
      // The edits endpoint (brush / eraser).
      {
        name: 'edit: mask of another size',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: { objId: 1, slice: 0, mask: { size: [2, 2], counts: [4] } },
        status: 400,
        message: /size \[2, 2\] but the slice is/,
      },
      {
        name: 'edit: counts past the slice',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: { objId: 1, slice: 0, mask: { size: [Y, X], counts: [X * Y, 5] } },
        status: 400,
        message: /counts sum past/,
      },
      {
        name: 'edit: counts short of the slice',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: { objId: 1, slice: 0, mask: { size: [Y, X], counts: [3] } },
        status: 400,
        message: /counts sum to 3/,
      },
      {
        name: 'edit: slice past the end',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: { objId: 1, slice: Z, mask: { size: [Y, X], counts: [X * Y] } },
        status: 400,
        message: /slice/,
      },
      {
        name: 'edit: both mask and stroke',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: {
          objId: 1,
          slice: 0,
          mask: { size: [Y, X], counts: [X * Y] },
          stroke: { points: [{ x: 1, y: 1 }], radius: 2, mode: 'paint' },
        },
        status: 400,
        message: /mask|stroke/,
      },
      {
        name: 'edit: neither mask nor stroke',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: { objId: 1, slice: 0 },
        status: 400,
        message: /mask|stroke/,
      },
      {
        name: 'edit: object 0',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: { objId: 0, slice: 0, stroke: { points: [{ x: 1, y: 1 }], radius: 2, mode: 'paint' } },
        status: 400,
        message: /objId/,
      },
      {
        name: 'edit: huge radius',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: { objId: 1, slice: 0, stroke: { points: [{ x: 1, y: 1 }], radius: 1e9, mode: 'paint' } },
        status: 400,
        message: /radius/,
      },
      {
        name: 'edit: unknown mode',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        body: { objId: 1, slice: 0, stroke: { points: [{ x: 1, y: 1 }], radius: 2, mode: 'rm -rf' } },
        status: 400,
        message: /mode/,
      },
      {
        name: 'edit: not JSON',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        raw: '{"objId": 1, "slice": ',
        status: 400,
        message: /JSON|body/i,
      },
      {
        name: 'edit: body past the limit',
        method: 'POST',
        path: `/sessions/${sid}/edits`,
        raw: `{"objId":1,"slice":0,"mask":{"size":[${Y},${X}],"counts":[${'0,'.repeat(9_000_000)}0]}}`,
        status: [400, 413],
        message: /too large|limit|counts/i,
      },
      {
        name: 'edit: session id as a path',
        method: 'POST',
        path: `/sessions/..%2F..%2Fetc/edits`,
        body: { objId: 1, slice: 0, stroke: { points: [{ x: 1, y: 1 }], radius: 2, mode: 'paint' } },
        status: [400, 404],
        message: /session/,
      },
      // Video batch jobs.
      {
        name: 'video job: frame past the end',
        method: 'POST',
        path: '/jobs',
        body: { uploadId: vid.body.id, prompts: [{ objId: 1, slice: 3, box: [10, 10, 50, 50] }] },
        status: 400,
        message: /frame 3 is outside/,
      },
      {
        name: 'video job: box outside the frame',
        method: 'POST',
        path: '/jobs',
        body: { uploadId: vid.body.id, prompts: [{ objId: 1, slice: 0, box: [10, 10, 5000, 50] }] },
        status: 400,
        message: /outside|box/,
      },
      {
        name: 'video job: inverted box',
        method: 'POST',
        path: '/jobs',
        body: { uploadId: vid.body.id, prompts: [{ objId: 1, slice: 0, box: [50, 50, 10, 10] }] },
        status: 400,
        message: /box/,
      },
      {
        name: 'video job: mask of another size',
        method: 'POST',
        path: '/jobs',
        body: { uploadId: vid.body.id, prompts: [{ objId: 1, slice: 0, mask: { size: [2, 2], counts: [4] } }] },
        status: 400,
        message: /size \[2, 2\]/,
      },
      {
        name: 'video job: no prompt at all',
        method: 'POST',
        path: '/jobs',
        body: { uploadId: vid.body.id, prompts: [] },
        status: 400,
        message: /prompt/,
      },
      {
        name: 'video job: a policy',
        method: 'POST',
        path: '/jobs',
        body: { uploadId: vid.body.id, policy: 'key-box' },
        status: 400,
        message: /is a video/,
      },
      {
        name: 'video job: a server-only field',
        method: 'POST',
        path: '/jobs',
        body: { uploadId: vid.body.id, video: true, prompts: [{ objId: 1, slice: 0, box: [10, 10, 50, 50] }] },
        status: 400,
        message: /video|additional/,
      },
      {
        name: 'job: upload id as a path',
        method: 'POST',
        path: '/jobs',
        body: { uploadId: '../../etc/passwd', prompts: [{ objId: 1, slice: 0, box: [10, 10, 50, 50] }] },
        status: [400, 404],
        message: /upload/,
      },
      // Projects.
      {
        name: 'project: name with a path',
        method: 'POST',
        path: '/projects',
        body: { name: '../../x', labels: [{ value: 1, name: 'a' }] },
        status: 400,
        message: /name/,
      },
      {
        name: 'project: label value 0',
        method: 'POST',
        path: '/projects',
        body: { name: 'q', labels: [{ value: 0, name: 'a' }] },
        status: 400,
        message: /value|label/,
      },
      {
        name: 'project: duplicate label values',
        method: 'POST',
        path: '/projects',
        body: {
          name: 'q',
          labels: [
            { value: 1, name: 'a' },
            { value: 1, name: 'b' },
          ],
        },
        status: 400,
        message: /label|value/,
      },
      {
        name: 'project: bad colour',
        method: 'POST',
        path: '/projects',
        body: { name: 'q', labels: [{ value: 1, name: 'a', colour: 'red;x' }] },
        status: 400,
        message: /colour/,
      },
      {
        name: 'project: name taken',
        method: 'POST',
        path: '/projects',
        body: { name: 'p', labels: [{ value: 1, name: 'a' }] },
        status: [400, 409],
        message: /p/,
      },
      {
        name: 'project: case name as a path',
        method: 'GET',
        path: '/projects/p/cases/..%2F..%2F..%2Fetc%2Fpasswd',
        status: [400, 404],
        message: /case/,
      },
      {
        name: 'project: project name as a path',
        method: 'GET',
        path: '/projects/..%2F..%2Fetc/report',
        status: [400, 404],
        message: /name/,
      },
      // Label-map saves (versions).
      {
        name: 'save: labelsRle on another grid',
        method: 'POST',
        path: `/projects/p/cases/${C}/versions`,
        body: { baseVersion: -1, labelsRle: { dims: [X, Y, Z + 1], rle: full } },
        status: 400,
        message: /dims/,
      },
      {
        name: 'save: labelsRle counts short',
        method: 'POST',
        path: `/projects/p/cases/${C}/versions`,
        body: { baseVersion: -1, labelsRle: { dims: [X, Y, Z], rle: { size: [Z * Y, X], counts: [7] } } },
        status: 400,
        message: /counts sum to 7/,
      },
      {
        name: 'save: a label the project does not have',
        method: 'POST',
        path: `/projects/p/cases/${C}/versions`,
        body: { baseVersion: -1, labelsRle: { dims: [X, Y, Z], rle: { size: [Z * Y, X], counts: [0, Z * Y * X] }, label: 77 } },
        status: 400,
        message: /77/,
      },
      {
        name: 'save: both sessionId and labelsRle',
        method: 'POST',
        path: `/projects/p/cases/${C}/versions`,
        body: { baseVersion: -1, sessionId: sid, labelsRle: { dims: [X, Y, Z], rle: full } },
        status: 400,
        message: /either/,
      },
      {
        name: 'save: a session that does not exist',
        method: 'POST',
        path: `/projects/p/cases/${C}/versions`,
        body: { baseVersion: -1, sessionId: 'nope' },
        status: 404,
        message: /session/,
      },
      {
        name: 'save: stale base version',
        method: 'POST',
        path: `/projects/p/cases/${C}/versions`,
        body: { baseVersion: 4, labelsRle: { dims: [X, Y, Z], rle: full } },
        status: 409,
        message: /version/,
      },
      {
        name: 'save: a note past its limit',
        method: 'POST',
        path: `/projects/p/cases/${C}/versions`,
        body: { baseVersion: -1, labelsRle: { dims: [X, Y, Z], rle: full }, note: 'x'.repeat(5000) },
        status: 400,
        message: /note/,
      },
      // Interaction logs and exports.
      {
        name: 'interactions: negative slice',
        method: 'POST',
        path: `/projects/p/cases/${C}/interactions`,
        body: { events: [{ tool: 'box', slice: -1, t: Date.now() }] },
        status: 400,
        message: /slice/,
      },
      {
        name: 'interactions: too many at once',
        method: 'POST',
        path: `/projects/p/cases/${C}/interactions`,
        body: { events: Array.from({ length: 20_000 }, () => ({ tool: 'box', slice: 0, t: Date.now() })) },
        status: [400, 413],
        message: /events|items|limit/i,
      },
      { name: 'export: round 0', method: 'POST', path: '/projects/p/export', body: { round: 0 }, status: 400, message: /round/ },
      {
        name: 'export: format as a path',
        method: 'POST',
        path: '/projects/p/export',
        body: { round: 1, format: '../../x' },
        status: 400,
        message: /format/,
      },
      {
        name: 'export: an extra output path',
        method: 'POST',
        path: '/projects/p/export',
        body: { round: 1, out: '/tmp/x' },
        status: 400,
        message: /out|additional/,
      },
      // Downloads.
      {
        name: 'labelmap: format as a path',
        method: 'GET',
        path: `/sessions/${sid}/labelmap?format=../../x`,
        status: 400,
        message: /format/,
      },
      {
        name: 'video download: file as a path',
        method: 'GET',
        path: `/sessions/${sid}/video/..%2F..%2Fsecret`,
        status: [400, 404],
        message: /file|video|must be/,
      },
    ];

    const problems: string[] = [];
    for (const h of cases_) {
      const r = await call(fx.server.url, h.method, h.path, { body: h.body, raw: h.raw });
      const [lo, hi] = Array.isArray(h.status) ? h.status : [h.status, h.status];
      const p: string[] = [];
      if (r.status < lo || r.status > hi) p.push(`status ${r.status}, want ${lo === hi ? lo : `${lo}-${hi}`}`);
      let line = '';
      try {
        line = errorShape(r);
      } catch (e) {
        p.push((e as Error).message);
      }
      const fix = (r.body as { fix?: string }).fix;
      if (!fix) p.push('no fix');
      if (line && !h.message.test(line)) p.push(`message ${JSON.stringify(line)} does not match ${h.message}`);
      if (p.length) problems.push(`${h.name}: ${p.join('; ')}${line ? '' : ` body ${JSON.stringify(r.body).slice(0, 200)}`}`);
    }
    assert.deepEqual(problems, []);

    assert.deepEqual(files(fx.server.dataDir), before, 'no file was stored by a refused request');
    assert.deepEqual((await call(fx.server.url, 'GET', '/jobs')).body, [], 'no job was queued');
    assert.deepEqual((await call(fx.server.url, 'GET', `/projects/p/cases/${C}`)).body.versions ?? [], [], 'no version was saved');
    assert.equal((await call(fx.server.url, 'GET', '/projects')).body.length, 1, 'no project was created');
  });
});
