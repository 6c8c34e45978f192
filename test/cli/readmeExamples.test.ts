/**
 * The README's examples run as printed (developers' guide). The heavy ones (models, servers) were
 * run by hand; this test keeps them from drifting cheaply: every `medsam2` / `$M` / `node
 * dist/cli/main.js` invocation in a bash/sh block of README.md (and in the npm scripts it runs)
 * names a real command and only options that command has, every `../shared/data` or repository
 * path it names exists, and the `info` example runs (exit 0, its header printed). Every other
 * line is covered too, or skipped with its reason: `npm run X` names a script, `bash F` a file,
 * each curl request a route of the real server (method and path; 127.0.0.1), and the shell
 * plumbing around them (variables, loops, waits, mkdir) is listed in PLUMBING with why it needs
 * no check; a new kind of line fails the test until it is one or the other.
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

const PACKAGE_SCRIPTS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** Each medsam2 invocation as its argument tokens (after the program name), the README's and its npm scripts'. */
function invocations(): string[][] {
  const out: string[][] = [];
  for (const line of [...shellLines(), ...Object.values(PACKAGE_SCRIPTS)])
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

test('every medsam2 command in the README names a real command and only its options', async () => {
  const program = await buildProgram();
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
    if (args.length === 0) continue; // the bare program (the `medsam2` npm script passes its arguments on)
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

/** Shell lines that run nothing of this project, and why they need no check of their own. */
const PLUMBING: [RegExp, string][] = [
  [/^mkdir -p [\w/-]+( && cp \.\.\/shared\/data\/[\w/*.-]+ [\w/-]+)?$/, 'makes an output folder (and copies shared data into it)'],
  [/^dcmodify /, "DCMTK's own tool, rewriting the copied series (the SEG/RTSTRUCT output is tested in test/io)"],
  [/^M="(npx medsam2|node dist\/cli\/main\.js)"/, 'names the CLI as $M (its invocations are checked)'],
  [/^D=\/tmp\/[\w-]+; M=/, 'names a scratch data folder and the CLI'],
  [/^printf '[^']*' > [\w.]+$/, 'writes the guidelines file the next command reads'],
  [/^(for \w+ in [\w: ]+; do|done)$/, 'loop syntax (the loop body is checked)'],
  [/^J='Content-Type: application\/json'(; \w="Authorization: Bearer \$T_\w+")+$/, 'HTTP header variables'],
  [/^kill %1( %2)?$/, 'stops the server (and the throwaway PACS) started in the background above'],
  [
    /^(mkdir -p \/tmp\/pacs && echo '\{"StorageDirectory"|"RemoteAccessAllowed":false|"DicomWeb":\{"Enable":true)/,
    "the throwaway Orthanc's configuration (test/server/projectPacsSend.test.ts sends to Orthanc the same way)",
  ],
  [/^Orthanc \/tmp\/pacs\/orthanc\.json /, 'starts the throwaway Orthanc PACS'],
  [/^P=http:\/\/127\.0\.0\.1:8042\/dicom-web; until curl -sf /, 'names the PACS and waits for it'],
  [/^\(cd out && rm -f ct-series\.zip && zip -qr ct-series\.zip ct-series\)$/, "zips the DICOM section's series for the upload"],
  [/^curl -s "\$P\//, "asks the PACS (Orthanc's QIDO-RS), not medsam2's server"],
];

/** The npm command of a line (`npm ci`, `npm test`, `npm run X …`), or undefined. */
function npmScript(line: string): string[] {
  return [...line.matchAll(/\bnpm (ci|test|run ([\w:-]+))/g)].map((m) => m[2] ?? m[1]!);
}

/** The curl requests of a line: method and the path after $S (the README's server URL variable). */
function curlRequests(line: string): { method: string; path: string }[] {
  if (!/\bcurl\b/.test(line)) return [];
  return line.split(/;|&&|\|\|?/).flatMap((part) => {
    const url = /"?\$S(\/[^\s"']*)/.exec(part);
    if (!/\bcurl\b/.test(part) || !url) return [];
    const x = /-X (\w+)/.exec(part)?.[1];
    const method = x ?? (/\s(-d|--data-binary)\s/.test(part) ? 'POST' : 'GET');
    return [{ method, path: url[1]!.split('?')[0]! }];
  });
}

test('every README shell line is checked or skipped with a reason; every curl example names a real route', async () => {
  const { startTestServer } = await import('../server/harness.js');
  const server = await startTestServer();
  const unchecked: string[] = [];
  const noRoute: string[] = [];
  const scripts: string[] = [];
  let curls = 0;
  try {
    for (const line of shellLines()) {
      const cli = /(^|[\s;($])(npx medsam2|\$M|node dist\/cli\/main\.js)\s/.test(line);
      const npm = npmScript(line);
      for (const n of npm) if (n !== 'ci' && !PACKAGE_SCRIPTS[n]) scripts.push(`${line}: no npm script '${n}'`);
      // A script the line runs must exist (what the script does is its own test's business).
      const file = /^bash ([\w./-]+)$/.exec(line)?.[1] ?? /^node --import tsx (scripts\/[\w./-]+\.ts)( |$)/.exec(line)?.[1];
      if (file && !existsSync(join(ROOT, file))) scripts.push(`${line}: no file ${file}`);
      const reqs = curlRequests(line);
      for (const { method, path } of reqs) {
        curls++;
        // Shell variables stand for ids: any value reaches the route (then a 404 of its own, not "no route").
        const url = path.replace(/\$\{?\w+\}?/g, 'x').replace(/\$\(date \+%s000\)/g, '0');
        const r = await fetch(server.url + url, {
          method,
          headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
          body: method === 'GET' ? undefined : '{}',
        });
        const body = (await r.text()).slice(0, 200);
        if (r.status === 404 && body.includes('no route')) noRoute.push(`${method} ${path}`);
      }
      if (!cli && npm.length === 0 && !file && reqs.length === 0 && !PLUMBING.some(([re]) => re.test(line))) unchecked.push(line);
    }
  } finally {
    await server.stop();
  }
  assert.ok(curls >= 20, `found only ${curls} curl requests: the parser is broken`);
  assert.deepEqual(scripts, []);
  assert.deepEqual(noRoute, [], 'curl examples whose method and path the server has no route for');
  assert.deepEqual(unchecked, [], 'README lines neither checked nor listed in PLUMBING with a reason');
});
