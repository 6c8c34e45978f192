import { existsSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { MedsamError } from '../../common/errors.js';
import { readVolume } from '../../io/readVolume.js';
import { writeMask } from '../../io/writeMask.js';
import { loadCase } from '../../pipelines/loadCase.js';
import { EXPORT_FORMATS, exportRound, type ExportFormat } from '../../projects/exportRound.js';
import { PROMPT_SOURCES, preAnnotateRound, type PromptSource } from '../../projects/preAnnotate.js';
import { ProjectService, parseLabelSpec, DEFAULT_CLAIM_SECONDS } from '../../projects/projectService.js';
import { buildReport } from '../../projects/report.js';
import { writeProjectReport } from '../../projects/writeReport.js';
import { authorLabel, CASE_STATES, MEMBER_ROLES, type MemberRole, type Project } from '../../projects/types.js';
import { MASK_EXTENSIONS, checkOutputPath, guardOutputs } from '../outputPaths.js';
import { parseIndex, parsePositiveInt } from '../parseArgs.js';

/**
 * `medsam2 project …`: annotation projects from the command line — create, add cases,
 * pre-annotate, the annotator and reviewer verbs a scripted annotator needs, status, versions,
 * export and report. State lives in --db (sqlite:PATH or postgres://…), masks in --store.
 */

interface Common {
  db?: string;
  store?: string;
  project?: string;
}

function withCommon(cmd: Command): Command {
  return cmd
    .addOption(new Option('--db <spec>', 'sqlite:PATH or postgres://user@host:port/db').env('MEDSAM2_PROJECT_DB'))
    .option('--store <dir>', 'mask store folder (default for SQLite: <db file>.store)')
    .option('--project <name>', 'project name (default: the only project in the database)');
}

async function withProject<T>(o: Common, fn: (svc: ProjectService, p: Project) => Promise<T>): Promise<T> {
  if (!o.db) throw new MedsamError('no project database given', 'add --db sqlite:project.db (or set MEDSAM2_PROJECT_DB)');
  const svc = await ProjectService.open({ db: o.db, store: o.store });
  try {
    return await fn(svc, await svc.project(o.project));
  } finally {
    await svc.close();
  }
}

const out = (s: string) => process.stdout.write(s + '\n');

/**
 * Writes a folder of outputs (export, report) whole or not at all: into a hidden staging folder
 * beside `target`, renamed to `target` at the end (an empty `target` is replaced); a failure
 * removes the staging folder, so no half-written export is ever left under the final name.
 */
async function intoNewFolder<T>(target: string, flag: string, fix: string, write: (dir: string) => T | Promise<T>): Promise<T> {
  const abs = resolve(target);
  if (existsSync(abs) && (!statSync(abs).isDirectory() || readdirSync(abs).length > 0))
    throw new MedsamError(`${flag} ${target} is not a new or empty folder`, fix);
  if (!existsSync(dirname(abs)))
    throw new MedsamError(`${flag} ${target}: folder ${dirname(abs)} does not exist`, 'create it first or choose another path');
  const stage = join(dirname(abs), `.${basename(abs)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    const r = await write(stage);
    if (existsSync(abs)) rmdirSync(abs);
    renameSync(stage, abs);
    return r;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
const collect = (v: string, prev: string[]) => [...prev, v];

function parseMember(text: string): { name: string; role: MemberRole } {
  const [name, role] = text.split(':');
  if (!name || !role || !MEMBER_ROLES.includes(role as MemberRole))
    throw new MedsamError(`--member '${text}' is not NAME:ROLE`, `roles: ${MEMBER_ROLES.join(', ')}, e.g. --member alice:annotator`);
  return { name, role: role as MemberRole };
}

function parseVersion(option: string, text: string): number {
  if (text === '-1') return -1;
  return parseIndex(option, text);
}

export function addProjectCommand(program: Command): void {
  const project = program
    .command('project')
    .description('annotation projects: pre-annotate, correct, review, accept — and measure the cost saved');

  withCommon(project.command('create').description('create a project'))
    .requiredOption('--name <name>', 'project name')
    .option('--label <spec>', 'label NAME[:#RRGGBB[:SNOMED code]], repeat for more (values 1, 2, …)', collect, [])
    .option('--model <id>', 'model that pre-annotates', 'default')
    .option('--model-version <v>', 'its version, recorded as the author of version 0', '1')
    .option('--guidelines <file>', 'annotation guidelines (text or Markdown file)')
    .option('--idle-seconds <s>', 'gaps longer than this count as this long (default 60)')
    .option('--member <name:role>', `member, roles ${MEMBER_ROLES.join('|')}; repeat`, collect, [])
    .action(
      async (
        o: Common & {
          name: string;
          label: string[];
          model: string;
          modelVersion: string;
          guidelines?: string;
          idleSeconds?: string;
          member: string[];
        },
      ) => {
        if (!o.db) throw new MedsamError('no project database given', 'add --db sqlite:project.db (or set MEDSAM2_PROJECT_DB)');
        const svc = await ProjectService.open({ db: o.db, store: o.store });
        try {
          const guidelines = o.guidelines ? readFileSync(o.guidelines, 'utf8') : '';
          const p = await svc.createProject({
            name: o.name,
            labels: (o.label.length ? o.label : ['lesion']).map((l, i) => parseLabelSpec(l, i + 1)),
            model: o.model,
            modelVersion: o.modelVersion,
            guidelines,
            idleSeconds: o.idleSeconds === undefined ? undefined : Number(o.idleSeconds),
            members: o.member.map(parseMember),
          });
          out(
            `created project ${p.name}: labels ${p.labels.map((l) => `${l.value}=${l.name}`).join(', ')}; model ${p.model}@${p.modelVersion}; ${o.member.length} member(s)`,
          );
        } finally {
          await svc.close();
        }
      },
    );

  withCommon(project.command('member').description('add a member or change their role'))
    .requiredOption('--name <name>')
    .requiredOption('--role <role>', MEMBER_ROLES.join('|'))
    .action((o: Common & { name: string; role: MemberRole }) =>
      withProject(o, async (svc, p) => {
        await svc.setMember(p, o.name, o.role);
        out(`${o.name} is ${o.role} of ${p.name}`);
      }),
    );

  withCommon(project.command('add-cases').description('add image files or folders as cases').argument('<paths...>'))
    .option('--round <n>', 'round the cases belong to', '1')
    .addOption(
      new Option('--mode <mode>', 'assisted (pre-annotated) or manual (the baseline)').choices(['assisted', 'manual']).default('assisted'),
    )
    .action((paths: string[], o: Common & { round: string; mode: 'assisted' | 'manual' }) =>
      withProject(o, async (svc, p) => {
        const rows = await svc.addCases(p, paths, { round: parsePositiveInt('--round', o.round), mode: o.mode });
        out(`added ${rows.length} ${o.mode} case(s) to round ${o.round}: ${rows.map((r) => r.name).join(', ')}`);
      }),
    );

  withCommon(project.command('pre-annotate').description("segment the round's new assisted cases with the model (version 0)"))
    .option('--round <n>', 'round', '1')
    .addOption(new Option('--prompts <source>', 'where prompts come from').choices([...PROMPT_SOURCES]).default('recist'))
    .option('--boxes <file>', 'JSON box list for --prompts boxes')
    .option('--model <id>', "model (default: the project's)")
    .option('--model-version <v>', 'its version')
    .option('--threads <n>', 'ONNX Runtime threads')
    .action(
      (o: Common & { round: string; prompts: PromptSource; boxes?: string; model?: string; modelVersion?: string; threads?: string }) =>
        withProject(o, async (svc, p) => {
          const n = await preAnnotateRound(svc, p, {
            round: parsePositiveInt('--round', o.round),
            prompts: o.prompts,
            boxesFile: o.boxes,
            model: o.model,
            modelVersion: o.modelVersion,
            threads: o.threads ? parsePositiveInt('--threads', o.threads) : undefined,
            onCase: (c, done, total, s) => process.stderr.write(`pre-annotated ${c.name} (${done}/${total}, ${s.toFixed(1)} s)\n`),
          });
          out(`pre-annotated ${n} case(s) in round ${o.round}`);
        }),
    );

  withCommon(project.command('status').description('cases by round and state, claims'))
    .option('--cases', 'list every case')
    .option('--json', 'print JSON')
    .action((o: Common & { cases?: boolean; json?: boolean }) =>
      withProject(o, async (svc, p) => {
        const cases = await svc.repo.listCases(p.id);
        const members = await svc.repo.members(p.id);
        if (o.json) {
          out(JSON.stringify({ project: p, members, cases }, null, 2));
          return;
        }
        out(
          `project ${p.name} · model ${p.model}@${p.modelVersion} · labels ${p.labels.map((l) => `${l.value}=${l.name}${l.code ? ` (SNOMED ${l.code})` : ''}`).join(', ')}`,
        );
        out(`members: ${members.map((m) => `${m.name} (${m.role})`).join(', ') || 'none'}`);
        for (const round of [...new Set(cases.map((c) => c.round))]) {
          const inR = cases.filter((c) => c.round === round);
          out(
            `round ${round}: ${inR.length} case(s) — ${CASE_STATES.map((s) => [s, inR.filter((c) => c.state === s).length] as const)
              .filter(([, n]) => n)
              .map(([s, n]) => `${n} ${s}`)
              .join(', ')}`,
          );
        }
        if (o.cases)
          for (const c of cases)
            out(
              `  r${c.round} ${c.name} ${c.mode} ${c.state} v${c.headVersion}${c.claimedBy ? ` claimed by ${c.claimedBy} until ${c.claimExpiresAt}` : ''}${c.reviewComment ? ` — "${c.reviewComment}"` : ''}`,
            );
      }),
    );

  withCommon(project.command('next').description("print the name of the user's next case (nothing when none is left)"))
    .requiredOption('--user <name>')
    .option('--round <n>')
    .action((o: Common & { user: string; round?: string }) =>
      withProject(o, async (svc, p) => {
        const c = await svc.nextCase(p, o.user, o.round ? parsePositiveInt('--round', o.round) : undefined);
        if (c) out(c.name);
      }),
    );

  withCommon(project.command('claim').description('claim a case to annotate it').argument('<case>'))
    .requiredOption('--user <name>')
    .option('--ttl <seconds>', 'claim lifetime', String(DEFAULT_CLAIM_SECONDS))
    .action((name: string, o: Common & { user: string; ttl: string }) =>
      withProject(o, async (svc, p) => {
        const c = await svc.claim(p, name, o.user, parsePositiveInt('--ttl', o.ttl));
        out(`${o.user} claimed ${c.name} until ${c.claimExpiresAt} (version ${c.headVersion})`);
      }),
    );

  withCommon(project.command('log').description('record one interaction (tool, slice) on a claimed case').argument('<case>'))
    .requiredOption('--user <name>')
    .requiredOption('--tool <tool>')
    .option('--slice <k>')
    .option('--at <ms>', 'epoch milliseconds (default now)')
    .action((name: string, o: Common & { user: string; tool: string; slice?: string; at?: string }) =>
      withProject(o, async (svc, p) => {
        await svc.logInteraction(
          p,
          name,
          o.user,
          o.tool,
          o.slice === undefined ? null : parseIndex('--slice', o.slice),
          o.at === undefined ? Date.now() : parseIndex('--at', o.at),
        );
      }),
    );

  withCommon(project.command('save').description('save a label map as a new version').argument('<case>'))
    .requiredOption('--user <name>')
    .requiredOption('--mask <file>', 'label map on the case image grid')
    .requiredOption('--base <version>', 'the version the edit started from (a later save by someone else → conflict)')
    .option('--note <text>')
    .action((name: string, o: Common & { user: string; mask: string; base: string; note?: string }) =>
      withProject(o, async (svc, p) => {
        const c = await svc.caseByName(p, name);
        const m = await readVolume(o.mask);
        if (m.dims.some((d, i) => d !== c.dims[i]))
          throw new MedsamError(
            `${o.mask} is ${m.dims.join('x')}, case ${name} is ${c.dims.join('x')}`,
            'save a mask on the case image grid',
          );
        const labels = new Uint8Array(m.data.length);
        for (let i = 0; i < labels.length; i++) {
          const v = Number(m.data[i]);
          if (!(Number.isInteger(v) && v >= 0 && v <= 255))
            throw new MedsamError(`${o.mask} has value ${v} at voxel ${i}`, 'save an integer label map with values 0..255');
          labels[i] = v;
        }
        const v = await svc.save(p, name, o.user, labels, parseVersion('--base', o.base), o.note ?? null);
        out(`saved ${name} version ${v.version} (${v.voxels} voxels)`);
      }),
    );

  withCommon(project.command('submit').description('submit a claimed case for review').argument('<case>'))
    .requiredOption('--user <name>')
    .action((name: string, o: Common & { user: string }) =>
      withProject(o, async (svc, p) => {
        await svc.submit(p, name, o.user);
        out(`${name} submitted`);
      }),
    );

  withCommon(project.command('review').description('accept a submitted case or return it with a comment').argument('<case>'))
    .requiredOption('--user <name>')
    .option('--accept')
    .option('--return')
    .option('--comment <text>')
    .action((name: string, o: Common & { user: string; accept?: boolean; return?: boolean; comment?: string }) =>
      withProject(o, async (svc, p) => {
        if (!!o.accept === !!o.return)
          throw new MedsamError('give exactly one of --accept or --return', "e.g. --return --comment 'missed the lower pole'");
        const c = await svc.review(p, name, o.user, o.accept ? 'accept' : 'return', o.comment ?? null);
        out(`${name} ${c.state}`);
      }),
    );

  withCommon(project.command('versions').description("a case's label versions").argument('<case>')).action((name: string, o: Common) =>
    withProject(o, async (svc, p) => {
      for (const v of await svc.versions(p, name))
        out(
          `v${v.version}  ${v.createdAt}  ${authorLabel(v.author).padEnd(20)} ${String(v.voxels).padStart(9)} voxels  ${v.maskSha.slice(0, 12)}${v.note ? `  ${v.note}` : ''}`,
        );
    }),
  );

  withCommon(
    project.command('diff').description('DSC and volume change between two versions').argument('<case>').argument('<a>').argument('<b>'),
  ).action((name: string, a: string, b: string, o: Common) =>
    withProject(o, async (svc, p) => {
      const d = await svc.diff(p, name, parseIndex('<a>', a), parseIndex('<b>', b));
      out(
        `v${a} → v${b}: DSC ${d.dsc.toFixed(4)}, volume ${d.mlA.toFixed(2)} → ${d.mlB.toFixed(2)} mL (${d.volumeChangePct === null ? 'n/a' : `${d.volumeChangePct >= 0 ? '+' : ''}${d.volumeChangePct.toFixed(1)} %`})`,
      );
    }),
  );

  withCommon(project.command('restore').description('restore an old version (as a new version)').argument('<case>').argument('<version>'))
    .requiredOption('--user <name>')
    .requiredOption('--base <version>')
    .action((name: string, version: string, o: Common & { user: string; base: string }) =>
      withProject(o, async (svc, p) => {
        const v = await svc.restore(p, name, o.user, parseIndex('<version>', version), parseVersion('--base', o.base));
        out(`restored version ${version} of ${name} as version ${v.version}`);
      }),
    );

  withCommon(
    project
      .command('show')
      .description('write one version of a case (default: the latest) as a mask file')
      .argument('<case>')
      .argument('[version]'),
  )
    .requiredOption('-o, --out <file>', 'mask file (.nii.gz, .nrrd, .npz, …)')
    .action((name: string, version: string | undefined, o: Common & { out: string }) =>
      withProject(o, async (svc, p) => {
        checkOutputPath(o.out, '-o', MASK_EXTENSIONS);
        const m = await svc.mask(p, name, version === undefined ? undefined : parseIndex('[version]', version));
        // The case's own image (a file the user made) is never the output.
        guardOutputs([m.case.source], [{ flag: '-o', path: o.out }]);
        const { image } = await loadCase(m.case.source);
        await writeMask(resolve(o.out), { ...image, data: m.labels }, image);
        out(`wrote version ${m.version.version} of ${name} to ${o.out}`);
      }),
    );

  withCommon(project.command('export').description("a round's accepted labels as a training set"))
    .requiredOption('--round <n>')
    .addOption(new Option('--format <f>').choices([...EXPORT_FORMATS]).default('medsam2-npz'))
    .requiredOption('--out <dir>', 'new or empty folder')
    .action((o: Common & { round: string; format: ExportFormat; out: string }) =>
      withProject(o, async (svc, p) => {
        const round = parsePositiveInt('--round', o.round);
        const files = await intoNewFolder(o.out, '--out', 'export each round into a new folder (exports are never overwritten)', (dir) =>
          exportRound(svc, p, round, o.format, dir),
        );
        out(`exported ${files.length - 1} file(s) and manifest.json to ${o.out}`);
      }),
    );

  withCommon(project.command('report').description('time per case, agreement and cost saved: CSV, JSON and HTML'))
    .requiredOption('--out <dir>', 'new or empty folder')
    .action((o: Common & { out: string }) =>
      withProject(o, async (svc, p) => {
        const r = await buildReport(svc, p);
        await intoNewFolder(o.out, '--out', 'give a new folder for each report (reports are never overwritten)', (dir) =>
          writeProjectReport(dir, r),
        );
        for (const s of r.rounds)
          out(
            `round ${s.round}: ${s.assistedCases} assisted, ${s.manualCases} manual accepted; median active ${s.medianAssistedSeconds?.toFixed(1) ?? '—'} s vs ${s.medianManualSeconds?.toFixed(1) ?? '—'} s manual; cost saved ${s.costSaved === null ? '—' : `${(100 * s.costSaved).toFixed(0)} %`}`,
          );
        out(`report written to ${o.out} (report.html, report.json, cases.csv, groups.csv, rounds.csv)`);
      }),
    );
}
