import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { assertUserError, ROOT, runCli } from '../helpers/cli.js';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readVolume } from '../../src/io/readVolume.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { fixtureDir, listFixtureCases } from '../helpers/sam2Fixtures.js';
import { cropNpzCase } from './cropCase.js';

/**
 * `medsam2 models import` / `models list` / `segment --model <imported>` end to end through the
 * CLI, in a temporary MEDSAM2_HOME and graph cache, with the smallest parity-fixture checkpoint
 * (random weights) on a 5-slice crop of the shared CT-lesion case. ~15 s.
 */
const LESION = join(ROOT, '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz');
const cases = listFixtureCases();
const skip =
  (cases.length === 0 && `needs SAM2 fixtures in ${fixtureDir()} (set MEDSAM2_SAM2_FIXTURES)`) ||
  (!existsSync(LESION) && 'needs ../shared/data/ct-lesion');
const small = [...cases].sort((a, b) => statSync(a.checkpointPath).size - statSync(b.checkpointPath).size)[0];

let tmp = '';
let env: NodeJS.ProcessEnv = {};
const cli = (...args: string[]) => runCli(args, env);
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'medsam2-cli-import-'));
  env = { ...process.env, MEDSAM2_HOME: join(tmp, 'home'), MEDSAM2_CACHE_DIR: join(tmp, 'cache'), MEDSAM2_DEBUG: '' };
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('medsam2 models import', { skip }, () => {
  let id = '';
  const registry = () => join(tmp, 'home', 'models');

  test('without --config an unknown checkpoint is refused, nothing registered', () => {
    assertUserError(cli('models', 'import', small!.checkpointPath), /unknown checkpoint sha256 [0-9a-f]{64} .*pass --config/);
    assert.equal(existsSync(registry()) && readdirSync(registry()).some((f) => f.endsWith('.json')), false);
  });

  test('imports with --config: warning, summary, listed', () => {
    const r = cli('models', 'import', small!.checkpointPath, '--config', small!.configPath);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: unknown checkpoint sha256 [0-9a-f]{64} \(.*\); using config /m);
    const m = /^imported (\S+) \(family sam2, (\d+) px\)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    id = m[1]!;
    assert.match(r.stdout, /graphs +compiled/);
    assert.ok(existsSync(join(registry(), `${id}.json`)));
    const list = cli('models', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(`^${id.replace(/\./g, '\\.')} +sam2 +${m[2]} px +${registry().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'),
    );
  });

  test('again without --force: one error line; with --force: graphs come from the cache', () => {
    assertUserError(
      cli('models', 'import', small!.checkpointPath, '--config', small!.configPath),
      new RegExp(`'${id}' is already registered`),
    );
    const r = cli('models', 'import', small!.checkpointPath, '--config', small!.configPath, '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /graphs +from the graph cache \(not rebuilt\)/);
  });

  test('wrong config and corrupt file: one error line each', () => {
    assertUserError(
      cli('models', 'import', small!.checkpointPath, '--config', 'sam2.1_hiera_b+', '--id', 'other'),
      /does not match config built-in sam2\.1_hiera_b\+: .*tensor '/,
    );
    assertUserError(
      cli('models', 'import', join(ROOT, 'src/cli/main.ts'), '--config', small!.configPath, '--id', 'other'),
      /neither a PyTorch \.pt \(zip\) checkpoint nor a \.safetensors/,
    );
    assert.equal(existsSync(join(registry(), 'other.json')), false);
  });

  test('segment --model <imported id> writes a NIfTI label map on the input grid', async () => {
    const crop = join(tmp, 'lesion5.npz');
    await cropNpzCase(LESION, crop, 6, 10);
    const { image, label } = await loadCase(crop);
    let key = 0,
      best = -1;
    for (let k = 0; k < image.dims[2]; k++) {
      const a = extractSlice(label!.data as Uint8Array, image.dims, 2, k).reduce((s, v) => s + (v ? 1 : 0), 0);
      if (a > best) {
        best = a;
        key = k;
      }
    }
    const box = boxFromMask(extractSlice(label!.data as Uint8Array, image.dims, 2, key), image.dims[0], image.dims[1])!;
    const out = join(tmp, 'seg.nii.gz');
    const r = cli('segment', crop, '--model', id, '--slice', String(key), '--box', box.join(','), '--threads', '2', '-q', '-o', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /segmented \d+ voxels/);
    const m = await readVolume(out);
    assert.deepEqual(m.dims, image.dims);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(m.spacing[i]! - image.spacing[i]!) < 1e-5, `spacing ${m.spacing} vs ${image.spacing}`);
    const values = new Set(Array.from(m.data as ArrayLike<number>, Number));
    for (const v of values) assert.ok(v === 0 || v === 1, `label ${v}`);
    assert.ok(
      extractSlice(m.data, m.dims, 2, key).some((v) => Number(v) !== 0),
      'key slice is not empty',
    );
  });
});
