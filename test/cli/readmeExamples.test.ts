/**
 * The README's examples run as printed (developers' guide). The heavy ones (models, servers) were
 * run by hand; this test keeps them from drifting cheaply: every `medsam2` / `$M` / `node
 * dist/cli/main.js` invocation in a bash/sh block of README.md names a real command and only
 * options that command has, every `../shared/data` or repository path it names exists, and the
 * `info` example runs (exit 0, its header printed).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { ROOT, runCli } from '../helpers/cli.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SHARED = join(ROOT, '../shared/data');

/** Shell lines of the README's bash/sh blocks, continuations joined, comments dropped. */
function shellLines(): string[] {
  return [...README.matchAll(/```(?:bash|sh)\n([\s\S]*?)```/g)].flatMap((m) =>
    m[1]!
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map((l) => l.replace(/(^|\s)#(\s.*)?$/, '').trim())
      .filter(Boolean),
  );
}

/** Each medsam2 invocation as its argument tokens (after the program name). */
function invocations(): string[][] {
  const out: string[][] = [];
  for (const line of shellLines())
    for (const part of line.split(/;|&&|\|\|?|\$\(|\)|`/)) {
      const t = part.trim().split(/\s+/);
      const i = t.findIndex((w) => w === 'medsam2' || w === '$M' || w.endsWith('dist/cli/main.js'));
      if (i >= 0 && !(t[i] === 'medsam2' && t[i - 1] === 'run')) out.push(t.slice(i + 1));
    }
  return out;
}

function optionNames(c: Command): Set<string> {
  const names = new Set(['--help', '-h']);
  for (const o of c.options) {
    if (o.long) names.add(o.long);
    if (o.short) names.add(o.short);
  }
  return names;
}

test('every medsam2 command in the README names a real command and only its options', () => {
  const program = buildProgram();
  const calls = invocations();
  assert.ok(calls.length >= 30, `found only ${calls.length} invocations: the README parser is broken`);
  const problems: string[] = [];
  for (const args of calls) {
    let cmd: Command = program;
    let k = 0;
    for (; k < args.length; k++) {
      const sub = cmd.commands.find((c) => c.name() === args[k] || c.aliases().includes(args[k]!));
      if (!sub) break;
      cmd = sub;
    }
    const shown = `medsam2 ${args.join(' ')}`;
    if (cmd === program) {
      if (!['--version', '-V', '--help'].includes(args[0] ?? '')) problems.push(`${shown}: no such command '${args[0]}'`);
      continue;
    }
    const known = optionNames(cmd);
    for (const a of args.slice(k))
      if (/^--?[a-zA-Z]/.test(a) && !known.has(a.split('=')[0]!)) problems.push(`${shown}: '${cmd.name()}' has no option ${a}`);
  }
  assert.deepEqual(problems, []);
});

test('every data path and repository file the README examples name exists', { skip: !existsSync(SHARED) && `needs ${SHARED}` }, () => {
  const missing = new Set<string>();
  for (const line of shellLines()) {
    // A glob (dir/*.dcm) names its folder.
    for (const m of line.matchAll(/(?:^|[\s@=])((?:\.\.\/shared\/data|bench|src|test|scripts|\.ci)\/[^\s"'`;|)]+)/g))
      if (!existsSync(join(ROOT, m[1]!.replace(/\/[^/]*[*?][^/]*$/, '')))) missing.add(m[1]!);
  }
  assert.deepEqual([...missing], []);
});

test('the README info example runs as printed', { skip: !existsSync(SHARED) && `needs ${SHARED}` }, () => {
  const args = invocations().find((a) => a[0] === 'info');
  assert.ok(args, 'the README has an info example');
  const r = runCli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dimensions: +\d+ x \d+ x \d+/);
  assert.match(r.stdout, /spacing/i);
});
