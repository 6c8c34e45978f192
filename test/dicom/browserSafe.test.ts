import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRIES = [
  'src/io/dicom/series.ts',
  'src/io/dicom/segRead.ts',
  'src/io/dicom/segWrite.ts',
  'src/io/dicom/rtstructWrite.ts',
  'src/io/dicomweb/client.ts',
  'src/io/dicomweb/readSeries.ts',
];
const NODE_BUILTINS = /^(node:|fs$|path$|os$|zlib$|child_process$|module$|url$|crypto$|buffer$)/;

test('DICOM core, SEG/RTSTRUCT and DICOMweb modules import nothing from node: (browser-safe), transitively; no Buffer', () => {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2];
      if (NODE_BUILTINS.test(spec)) offenders.push(`${relative(ROOT, file)} imports ${spec}`);
      else if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
    if (/\bBuffer\./.test(text.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, ''))) offenders.push(`${relative(ROOT, file)} uses Buffer`);
  };
  ENTRIES.forEach((e) => visit(join(ROOT, e)));
  assert.ok(seen.size >= 12, `walked ${seen.size} modules`);
  assert.deepEqual(offenders, []);
});
