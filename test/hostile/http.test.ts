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
  /** Default 400. */
  status?: number | [number, number];
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

    // The endpoints most requests go to.
    const EDIT = { method: 'POST', path: `/sessions/${sid}/edits` };
    const JOB = { method: 'POST', path: '/jobs' };
    const PROJECT = { method: 'POST', path: '/projects' };
    const SAVE = { method: 'POST', path: `/projects/p/cases/${C}/versions` };
    const LOG = { method: 'POST', path: `/projects/p/cases/${C}/interactions` };
    const EXPORT = { method: 'POST', path: '/projects/p/export' };
    const cases_: Hostile[] = [
      // The edits endpoint (brush / eraser).
      {
        ...EDIT,
        name: 'edit: mask of another size',
        body: { objId: 1, slice: 0, mask: { size: [2, 2], counts: [4] } },
        message: /size \[2, 2\] but the slice is/,
      },
      {
        ...EDIT,
        name: 'edit: counts past the slice',
        body: { objId: 1, slice: 0, mask: { size: [Y, X], counts: [X * Y, 5] } },
        message: /counts sum past/,
      },
      {
        ...EDIT,
        name: 'edit: counts short of the slice',
        body: { objId: 1, slice: 0, mask: { size: [Y, X], counts: [3] } },
        message: /counts sum to 3/,
      },
      {
        ...EDIT,
        name: 'edit: slice past the end',
        body: { objId: 1, slice: Z, mask: { size: [Y, X], counts: [X * Y] } },
        message: /slice/,
      },
      {
        ...EDIT,
        name: 'edit: both mask and stroke',
        body: {
          objId: 1,
          slice: 0,
          mask: { size: [Y, X], counts: [X * Y] },
          stroke: { points: [{ x: 1, y: 1 }], radius: 2, mode: 'paint' },
        },
        message: /mask|stroke/,
      },
      {
        ...EDIT,
        name: 'edit: neither mask nor stroke',
        body: { objId: 1, slice: 0 },
        message: /mask|stroke/,
      },
      {
        ...EDIT,
        name: 'edit: object 0',
        body: { objId: 0, slice: 0, stroke: { points: [{ x: 1, y: 1 }], radius: 2, mode: 'paint' } },
        message: /objId/,
      },
      {
        ...EDIT,
        name: 'edit: huge radius',
        body: { objId: 1, slice: 0, stroke: { points: [{ x: 1, y: 1 }], radius: 1e9, mode: 'paint' } },
        message: /radius/,
      },
      {
        ...EDIT,
        name: 'edit: unknown mode',
        body: { objId: 1, slice: 0, stroke: { points: [{ x: 1, y: 1 }], radius: 2, mode: 'rm -rf' } },
        message: /mode/,
      },
      {
        ...EDIT,
        name: 'edit: not JSON',
        raw: '{"objId": 1, "slice": ',
        message: /JSON|body/i,
      },
      {
        ...EDIT,
        name: 'edit: body past the limit',
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
        ...JOB,
        name: 'video job: frame past the end',
        body: { uploadId: vid.body.id, prompts: [{ objId: 1, slice: 3, box: [10, 10, 50, 50] }] },
        message: /frame 3 is outside/,
      },
      {
        ...JOB,
        name: 'video job: box outside the frame',
        body: { uploadId: vid.body.id, prompts: [{ objId: 1, slice: 0, box: [10, 10, 5000, 50] }] },
        message: /outside|box/,
      },
      {
        ...JOB,
        name: 'video job: inverted box',
        body: { uploadId: vid.body.id, prompts: [{ objId: 1, slice: 0, box: [50, 50, 10, 10] }] },
        message: /box/,
      },
      {
        ...JOB,
        name: 'video job: mask of another size',
        body: { uploadId: vid.body.id, prompts: [{ objId: 1, slice: 0, mask: { size: [2, 2], counts: [4] } }] },
        message: /size \[2, 2\]/,
      },
      {
        ...JOB,
        name: 'video job: no prompt at all',
        body: { uploadId: vid.body.id, prompts: [] },
        message: /prompt/,
      },
      {
        ...JOB,
        name: 'video job: a policy',
        body: { uploadId: vid.body.id, policy: 'key-box' },
        message: /is a video/,
      },
      {
        ...JOB,
        name: 'video job: a server-only field',
        body: { uploadId: vid.body.id, video: true, prompts: [{ objId: 1, slice: 0, box: [10, 10, 50, 50] }] },
        message: /video|additional/,
      },
      {
        ...JOB,
        name: 'job: upload id as a path',
        body: { uploadId: '../../etc/passwd', prompts: [{ objId: 1, slice: 0, box: [10, 10, 50, 50] }] },
        status: [400, 404],
        message: /upload/,
      },
      // Projects.
      {
        ...PROJECT,
        name: 'project: name with a path',
        body: { name: '../../x', labels: [{ value: 1, name: 'a' }] },
        message: /name/,
      },
      {
        ...PROJECT,
        name: 'project: label value 0',
        body: { name: 'q', labels: [{ value: 0, name: 'a' }] },
        message: /value|label/,
      },
      {
        ...PROJECT,
        name: 'project: duplicate label values',
        body: {
          name: 'q',
          labels: [
            { value: 1, name: 'a' },
            { value: 1, name: 'b' },
          ],
        },
        message: /label|value/,
      },
      {
        ...PROJECT,
        name: 'project: bad colour',
        body: { name: 'q', labels: [{ value: 1, name: 'a', colour: 'red;x' }] },
        message: /colour/,
      },
      {
        ...PROJECT,
        name: 'project: name taken',
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
        ...SAVE,
        name: 'save: labelsRle on another grid',
        body: { baseVersion: -1, labelsRle: { dims: [X, Y, Z + 1], rle: full } },
        message: /dims/,
      },
      {
        ...SAVE,
        name: 'save: labelsRle counts short',
        body: { baseVersion: -1, labelsRle: { dims: [X, Y, Z], rle: { size: [Z * Y, X], counts: [7] } } },
        message: /counts sum to 7/,
      },
      {
        ...SAVE,
        name: 'save: a label the project does not have',
        body: { baseVersion: -1, labelsRle: { dims: [X, Y, Z], rle: { size: [Z * Y, X], counts: [0, Z * Y * X] }, label: 77 } },
        message: /77/,
      },
      {
        ...SAVE,
        name: 'save: both sessionId and labelsRle',
        body: { baseVersion: -1, sessionId: sid, labelsRle: { dims: [X, Y, Z], rle: full } },
        message: /either/,
      },
      {
        ...SAVE,
        name: 'save: a session that does not exist',
        body: { baseVersion: -1, sessionId: 'nope' },
        status: 404,
        message: /session/,
      },
      {
        ...SAVE,
        name: 'save: stale base version',
        body: { baseVersion: 4, labelsRle: { dims: [X, Y, Z], rle: full } },
        status: 409,
        message: /version/,
      },
      {
        ...SAVE,
        name: 'save: a note past its limit',
        body: { baseVersion: -1, labelsRle: { dims: [X, Y, Z], rle: full }, note: 'x'.repeat(5000) },
        message: /note/,
      },
      // Interaction logs and exports.
      {
        ...LOG,
        name: 'interactions: negative slice',
        body: { events: [{ tool: 'box', slice: -1, t: Date.now() }] },
        message: /slice/,
      },
      {
        ...LOG,
        name: 'interactions: too many at once',
        body: { events: Array.from({ length: 20_000 }, () => ({ tool: 'box', slice: 0, t: Date.now() })) },
        status: [400, 413],
        message: /events|items|limit/i,
      },
      { ...EXPORT, name: 'export: round 0', body: { round: 0 }, message: /round/ },
      {
        ...EXPORT,
        name: 'export: format as a path',
        body: { round: 1, format: '../../x' },
        message: /format/,
      },
      {
        ...EXPORT,
        name: 'export: an extra output path',
        body: { round: 1, out: '/tmp/x' },
        message: /out|additional/,
      },
      // Downloads.
      {
        name: 'labelmap: format as a path',
        method: 'GET',
        path: `/sessions/${sid}/labelmap?format=../../x`,
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
      const status = h.status ?? 400;
      const [lo, hi] = Array.isArray(status) ? status : [status, status];
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
