import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sam2ConfigsFromYaml } from '../../src/models/sam2/compile.js';
import { canonicalJson } from '../../src/common/canonicalJson.js';
import { loadSam2Compiled, sam2CacheKey } from '../../src/models/sam2/graphCache.js';
import { listFixtureCases } from '../helpers/sam2Fixtures.js';

/** The compiled-graph cache: a second load reads the cached ONNX files instead of rebuilding. */
const c = listFixtureCases((x) => x.id.startsWith('micro'))[0];

test('graph cache: build once, then load from disk; key follows checkpoint, config and builder', {
  skip: !c && 'needs ../shared/fixtures/sam2 (micro case)',
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-graphcache-'));
  try {
    const src = { checkpointPath: c!.checkpointPath, configPath: c!.configPath };
    const first = await loadSam2Compiled(src, { cacheDir: dir });
    assert.equal(first.fromCache, false);
    assert.ok(existsSync(join(first.dir, 'manifest.json')), 'manifest written');
    assert.deepEqual(first.model.unusedKeys, [], 'every checkpoint tensor is used by some graph');
    const second = await loadSam2Compiled(src, { cacheDir: dir });
    assert.equal(second.fromCache, true);
    assert.equal(second.key, first.key);
    for (const k of Object.keys(first.model.graphs) as (keyof typeof first.model.graphs)[]) {
      assert.deepEqual(second.model.graphs[k], first.model.graphs[k], `graph ${k} identical`);
    }
    assert.deepEqual(second.model.params, first.model.params);
    assert.equal(second.model.checkpointSha256, c!.manifest.checkpoint_sha256);
    // a different config (or attention emission) gives a different key
    const text = readFileSync(c!.configPath, 'utf8');
    const cfg = sam2ConfigsFromYaml(text);
    const other = sam2ConfigsFromYaml(text.replace(/num_maskmem:\s*7/, 'num_maskmem: 5'));
    assert.notEqual(await sam2CacheKey(second.model.checkpointSha256, other), await sam2CacheKey(second.model.checkpointSha256, cfg));
    assert.notEqual(await sam2CacheKey('x', cfg, { attention: 'mha' }), await sam2CacheKey('x', cfg));
    assert.equal(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }), '{"a":[2,{"c":4,"d":3}],"b":1}');
    const rebuilt = await loadSam2Compiled(src, { cacheDir: dir, rebuild: true });
    assert.equal(rebuilt.fromCache, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
