import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { dice } from '../metrics/dice.js';
import { loadCase, type LoadedCase } from '../pipelines/loadCase.js';
import { nextState, type CaseEvent } from './caseLifecycle.js';
import { MaskStore } from './maskStore.js';
import { migrate } from './migrations.js';
import { openDb, parseDbSpec } from './openDb.js';
import { ProjectError } from './projectErrors.js';
import { ProjectConflictError, SqlProjectRepository, type ProjectRepository } from './projectRepository.js';
import type { SqlDb } from './sqlDb.js';
import { DEFAULT_IDLE_SECONDS } from './activeTime.js';
import {
  MEMBER_ROLES,
  type Author,
  type CaseMode,
  type CaseRow,
  type LabelDef,
  type LabelVersion,
  type Member,
  type MemberRole,
  type Project,
} from './types.js';

/**
 * The annotation-project library API: what the CLI (and later the server) calls. Every change
 * goes through the case state machine (caseLifecycle.ts) inside one database transaction; label
 * masks are written to the content-addressed store before the row that names them.
 */

export interface OpenProjectsOptions {
  /** `sqlite:PATH` or `postgres://…`. */
  db: string;
  /** Mask store folder; default for SQLite `<db file>.store`, required for PostgreSQL. */
  store?: string;
  /** Reads a case's image (and any reference it carries) from its `source`; default: the file at that path. */
  loader?: CaseLoader;
  /** Whether a name is a server administrator, who may act in every project without membership. */
  isServerAdmin?: (name: string) => Promise<boolean>;
}

export type CaseLoader = (source: string) => Promise<LoadedCase>;

/** A case to add whose image is already known by its source (the server's uploads). */
export interface CaseSource {
  source: string;
  /** File name the case is named after. */
  name: string;
}

/** One logged interaction as a client sends it. */
export interface InteractionEvent {
  tool: string;
  slice: number | null;
  /** Epoch milliseconds. */
  at: number;
}

export interface CreateProjectInput {
  name: string;
  labels: LabelDef[];
  model: string;
  modelVersion?: string;
  guidelines?: string;
  idleSeconds?: number;
  members?: { name: string; role: MemberRole }[];
}

/** Default claim lifetime: an annotator who walks away frees the case after this. */
export const DEFAULT_CLAIM_SECONDS = 2 * 60 * 60;

const VOLUME_FILE = /\.(nii|nii\.gz|nrrd|nhdr|mha|mhd|npz)$/i;

/** Parses 'lesion:#ff0000:52988006' or 'lesion' (colour and code optional); values number from 1. */
export function parseLabelSpec(text: string, value: number): LabelDef {
  const [name, colour, code] = text.split(':');
  if (!name || !/^[\w .-]{1,64}$/.test(name))
    throw new MedsamError(
      `label '${text}' has no usable name`,
      "write --label NAME[:#RRGGBB[:SNOMED code]], e.g. --label 'lesion:#ff0000:52988006'",
    );
  if (colour && !/^#[0-9a-fA-F]{6}$/.test(colour))
    throw new MedsamError(`label '${text}': colour '${colour}' is not #RRGGBB`, 'write the colour as #ff0000');
  if (code && !/^\d{6,18}$/.test(code))
    throw new MedsamError(
      `label '${text}': code '${code}' is not a SNOMED CT concept id`,
      'give digits only (e.g. 52988006), or leave the code out',
    );
  const palette = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4'];
  return { value, name, colour: (colour ?? palette[(value - 1) % palette.length]!).toLowerCase(), code: code ?? null };
}

/** Every non-zero voxel must carry one of the project's label values. */
export function checkLabelValues(project: Project, labels: Uint8Array): void {
  const allowed = new Uint8Array(256);
  for (const l of project.labels) allowed[l.value] = 1;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v && !allowed[v])
      throw new MedsamError(
        `label map has value ${v} at voxel ${i}, not a label of project ${project.name}`,
        `use ${project.labels.map((l) => `${l.value} (${l.name})`).join(', ')}`,
      );
  }
}

export function countForeground(labels: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) n++;
  return n;
}

export class ProjectService {
  private constructor(
    readonly repo: ProjectRepository,
    readonly masks: MaskStore,
    readonly dbKind: 'sqlite' | 'postgres',
    private readonly loader: CaseLoader = loadCase,
    private readonly isServerAdmin: (name: string) => Promise<boolean> = async () => false,
  ) {}

  /** A case's image (and reference data) from its source. */
  loadCase(source: string): Promise<LoadedCase> {
    return this.loader(source);
  }

  static async open(opts: OpenProjectsOptions): Promise<ProjectService> {
    const spec = parseDbSpec(opts.db);
    const storeDir = opts.store ?? (spec.kind === 'sqlite' ? `${spec.path}.store` : undefined);
    if (!storeDir)
      throw new MedsamError(
        'a PostgreSQL project needs a mask store folder',
        'add --store DIR (a folder every server and CLI of the project can reach)',
      );
    const db = await openDb(spec);
    try {
      await migrate(db);
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
    return new ProjectService(new SqlProjectRepository(db), new MaskStore(resolve(storeDir)), spec.kind, opts.loader, opts.isServerAdmin);
  }

  /**
   * On a database another layer opened (the server's: one database for everything); the project
   * tables are migrated here, and close() leaves the database open for its owner.
   */
  static async onDb(
    db: SqlDb,
    storeDir: string,
    opts: Pick<OpenProjectsOptions, 'loader' | 'isServerAdmin'> = {},
  ): Promise<ProjectService> {
    await migrate(db);
    const svc = new ProjectService(
      new SqlProjectRepository(db),
      new MaskStore(resolve(storeDir)),
      db.dialect,
      opts.loader,
      opts.isServerAdmin,
    );
    svc.ownsDb = false;
    return svc;
  }

  private ownsDb = true;

  async close(): Promise<void> {
    if (this.ownsDb) await this.repo.close();
  }

  // ---- projects and members ----

  async createProject(input: CreateProjectInput): Promise<Project> {
    if (!/^[\w.-]{1,64}$/.test(input.name))
      throw new MedsamError(`project name '${input.name}' is not usable`, 'use 1-64 letters, digits, dot, dash or underscore');
    if (input.labels.length === 0) throw new MedsamError('a project needs at least one label', "add --label 'lesion:#ff0000'");
    const values = new Set(input.labels.map((l) => l.value));
    if (values.size !== input.labels.length || input.labels.some((l) => l.value < 1 || l.value > 255))
      throw new MedsamError('label values must be distinct, 1..255', 'list each label once');
    const p: Project = {
      id: randomUUID(),
      name: input.name,
      labels: input.labels,
      model: input.model,
      modelVersion: input.modelVersion ?? '1',
      guidelines: input.guidelines ?? '',
      idleSeconds: input.idleSeconds ?? DEFAULT_IDLE_SECONDS,
      createdAt: new Date().toISOString(),
    };
    if (!(p.idleSeconds > 0))
      throw new MedsamError(`idle threshold ${p.idleSeconds} s is not positive`, 'give --idle-seconds > 0 (default 60)');
    await this.repo.transaction(async (r) => {
      await r.createProject(p);
      for (const m of input.members ?? []) await r.setMember({ projectId: p.id, name: m.name, role: m.role });
    });
    return p;
  }

  /** The named project, or the only one in the database when no name is given. */
  async project(name?: string): Promise<Project> {
    if (name !== undefined) {
      const p = await this.repo.projectByName(name);
      if (!p)
        throw new ProjectError(
          `no project named '${name}' in this database`,
          'list them with medsam2 project status, or create it with medsam2 project create',
          404,
        );
      return p;
    }
    const all = await this.repo.listProjects();
    if (all.length === 1) return all[0]!;
    if (all.length === 0) throw new MedsamError('this database has no project yet', 'create one with medsam2 project create --name NAME');
    throw new MedsamError(
      `this database holds ${all.length} projects (${all.map((p) => p.name).join(', ')})`,
      'name one with --project NAME',
    );
  }

  async setMember(project: Project, name: string, role: MemberRole): Promise<void> {
    if (!MEMBER_ROLES.includes(role)) throw new MedsamError(`unknown role '${role}'`, `use one of ${MEMBER_ROLES.join(', ')}`);
    if (!/^[\w.@-]{1,64}$/.test(name))
      throw new MedsamError(`member name '${name}' is not usable`, 'use letters, digits, dot, dash, underscore or @');
    await this.repo.setMember({ projectId: project.id, name, role });
  }

  /** The member (or a server admin, acting as project admin) if they hold one of `roles`; else an error. */
  async requireRole(project: Project, user: string, roles: MemberRole[]): Promise<Member> {
    const m = (await this.repo.members(project.id)).find((x) => x.name === user);
    if ((!m || m.role !== 'admin') && (await this.isServerAdmin(user))) return { projectId: project.id, name: user, role: 'admin' };
    if (!m || !(roles.includes(m.role) || m.role === 'admin')) {
      throw new ProjectError(
        `${user} is not ${roles.join(' or ')} of project ${project.name}`,
        `an admin adds them: medsam2 project member --name ${user} --role ${roles[0]}`,
        403,
      );
    }
    return m;
  }

  // ---- cases ----

  /** Image files a path stands for: a volume file; a folder's volume files; else a DICOM series folder itself. */
  static expandCasePaths(path: string): string[] {
    const abs = resolve(path);
    if (!existsSync(abs)) throw new MedsamError(`${path} does not exist`, 'check the path');
    if (!statSync(abs).isDirectory()) return [abs];
    const files = readdirSync(abs)
      .filter((f) => VOLUME_FILE.test(f) && !/\.seg\.|_seg\./i.test(f))
      .sort()
      .map((f) => join(abs, f));
    return files.length ? files : [abs];
  }

  static caseNameOf(path: string): string {
    return basename(path)
      .replace(VOLUME_FILE, '')
      .replace(/[^\w.-]/g, '_');
  }

  /** Adds cases (validated by reading each image once); existing names are refused, never replaced. */
  async addCases(project: Project, paths: string[], opts: { round?: number; mode?: CaseMode } = {}): Promise<CaseRow[]> {
    const files = paths.flatMap((p) => ProjectService.expandCasePaths(p));
    return this.addCaseSources(
      project,
      files.map((f) => ({ source: f, name: f })),
      opts,
    );
  }

  /** Adds cases whose images the loader reads from `source`, named after `name` (a file name). */
  async addCaseSources(project: Project, sources: CaseSource[], opts: { round?: number; mode?: CaseMode } = {}): Promise<CaseRow[]> {
    const round = opts.round ?? 1;
    if (!Number.isInteger(round) || round < 1) throw new MedsamError(`round ${round} is not a positive integer`, 'rounds number from 1');
    const rows: CaseRow[] = [];
    for (const { source, name: fileName } of sources) {
      let name = ProjectService.caseNameOf(fileName);
      const same = await this.repo.caseByName(project.id, name);
      // The same image again in a later round (re-annotation with a new model) gets a round suffix.
      if (same && same.round < round && same.source === source) name = `${name}-r${round}`;
      if ((same && (await this.repo.caseByName(project.id, name))) || rows.some((r) => r.name === name))
        throw new ProjectError(
          `the project already has a case named '${name}'`,
          'cases are never replaced; rename the file to add it again',
          409,
        );
      const { image } = await this.loader(source);
      rows.push({
        id: randomUUID(),
        projectId: project.id,
        name,
        source,
        round,
        mode: opts.mode ?? 'assisted',
        state: 'new',
        dims: image.dims,
        spacing: image.spacing,
        headVersion: -1,
        claimedBy: null,
        claimExpiresAt: null,
        submittedBy: null,
        reviewedBy: null,
        reviewComment: null,
        updatedAt: new Date().toISOString(),
      });
    }
    await this.repo.transaction(async (r) => {
      for (const c of rows) await r.addCase(c);
    });
    return rows;
  }

  async caseByName(project: Project, name: string): Promise<CaseRow> {
    const c = await this.repo.caseByName(project.id, name);
    if (!c)
      throw new ProjectError(`project ${project.name} has no case '${name}'`, 'list the cases with medsam2 project status --cases', 404);
    return c;
  }

  /** The next case for `user`: returned to them first, then pre-annotated (or new manual) ones, by round and name. */
  async nextCase(project: Project, user: string, round?: number): Promise<CaseRow | undefined> {
    const all = await this.repo.listCases(project.id, round === undefined ? {} : { round });
    const now = Date.now();
    const mine = all.find((c) => c.state === 'in_progress' && c.claimedBy === user);
    if (mine) return mine;
    const returned = all.find((c) => c.state === 'returned' && c.submittedBy === user);
    if (returned) return returned;
    return all.find(
      (c) =>
        c.state === 'pre_annotated' ||
        (c.state === 'new' && c.mode === 'manual') ||
        (c.state === 'in_progress' && c.claimExpiresAt !== null && Date.parse(c.claimExpiresAt) <= now),
    );
  }

  // ---- the life cycle ----

  private async transition(
    project: Project,
    caseName: string,
    event: CaseEvent,
    user: string,
    apply: (r: ProjectRepository, c: CaseRow, to: CaseRow['state']) => Promise<Partial<CaseRow>>,
    comment: string | null = null,
  ): Promise<CaseRow> {
    return this.repo.transaction(async (r) => {
      const c = await r.caseByName(project.id, caseName);
      if (!c)
        throw new ProjectError(
          `project ${project.name} has no case '${caseName}'`,
          'list the cases with medsam2 project status --cases',
          404,
        );
      const to = nextState(c, event, user, Date.now());
      const patch = await apply(r, c, to);
      const ok = await r.updateCase(c.id, { state: c.state, headVersion: c.headVersion }, { ...patch, state: to });
      if (!ok) throw new ProjectConflictError(`case ${caseName} changed while ${user} was updating it`, 'reload the case and try again');
      await r.addEvent(c.id, event, user, comment);
      return { ...c, ...patch, state: to };
    });
  }

  async claim(project: Project, caseName: string, user: string, ttlSeconds = DEFAULT_CLAIM_SECONDS): Promise<CaseRow> {
    await this.requireRole(project, user, ['annotator']);
    return this.transition(project, caseName, 'claim', user, async () => ({
      claimedBy: user,
      claimExpiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
    }));
  }

  /**
   * Saves a new label version. `baseVersion` is the version the editor started from: if someone
   * saved after it, this is a ProjectConflictError (409), never an overwrite.
   */
  async save(
    project: Project,
    caseName: string,
    user: string,
    labels: Uint8Array,
    baseVersion: number,
    note: string | null = null,
  ): Promise<LabelVersion> {
    await this.requireRole(project, user, ['annotator']);
    const c0 = await this.caseByName(project, caseName);
    this.checkMaskSize(c0, labels);
    checkLabelValues(project, labels);
    const sha = this.masks.putMask(labels);
    return this.addVersion(
      project,
      caseName,
      user,
      'save',
      baseVersion,
      { kind: 'person', name: user },
      sha,
      countForeground(labels),
      note,
      null,
    );
  }

  private checkMaskSize(c: CaseRow, labels: Uint8Array): void {
    const n = c.dims[0] * c.dims[1] * c.dims[2];
    if (labels.length !== n)
      throw new MedsamError(
        `label map for case ${c.name} has ${labels.length} voxels, the image ${n} (${c.dims.join('x')})`,
        'save a label map on the case image grid',
      );
  }

  private async addVersion(
    project: Project,
    caseName: string,
    user: string,
    event: CaseEvent,
    baseVersion: number,
    author: Author,
    sha: string,
    voxels: number,
    note: string | null,
    restoredFrom: number | null,
  ): Promise<LabelVersion> {
    let v!: LabelVersion;
    await this.transition(project, caseName, event, user, async (r, c) => {
      if (c.headVersion !== baseVersion) {
        throw new ProjectConflictError(
          `case ${caseName} is at version ${c.headVersion}, this save was based on version ${baseVersion}`,
          'reload the latest version, redo the change on it and save again',
        );
      }
      v = {
        caseId: c.id,
        version: c.headVersion + 1,
        author,
        maskSha: sha,
        voxels,
        note,
        restoredFrom,
        createdAt: new Date().toISOString(),
      };
      await r.addVersion(v);
      return { headVersion: v.version };
    });
    return v;
  }

  async submit(project: Project, caseName: string, user: string): Promise<CaseRow> {
    await this.requireRole(project, user, ['annotator']);
    return this.transition(project, caseName, 'submit', user, async (_r, c) => {
      if (c.headVersion < 0) throw new MedsamError(`case ${caseName} has no label yet`, 'save a label before submitting');
      return { submittedBy: user, claimedBy: null, claimExpiresAt: null };
    });
  }

  async review(
    project: Project,
    caseName: string,
    reviewer: string,
    verdict: 'accept' | 'return',
    comment: string | null = null,
  ): Promise<CaseRow> {
    await this.requireRole(project, reviewer, ['reviewer']);
    if (verdict === 'return' && !comment?.trim())
      throw new MedsamError(`returning case ${caseName} needs a comment`, "say what to fix: --comment 'the lower pole is missing'");
    return this.transition(project, caseName, verdict, reviewer, async () => ({ reviewedBy: reviewer, reviewComment: comment }), comment);
  }

  /** Stores the model's pre-annotation as version 0 (new → pre_annotated). */
  async storePreAnnotation(
    project: Project,
    caseName: string,
    labels: Uint8Array,
    model: string,
    modelVersion: string,
  ): Promise<LabelVersion> {
    const c = await this.caseByName(project, caseName);
    if (c.mode === 'manual')
      throw new MedsamError(`case ${caseName} is a manual-mode case`, 'manual cases are the baseline and are not pre-annotated');
    this.checkMaskSize(c, labels);
    const sha = this.masks.putMask(labels);
    return this.addVersion(
      project,
      caseName,
      `${model}@${modelVersion}`,
      'pre-annotate',
      -1,
      { kind: 'model', model, version: modelVersion },
      sha,
      countForeground(labels),
      null,
      null,
    );
  }

  // ---- versions ----

  async versions(project: Project, caseName: string): Promise<LabelVersion[]> {
    return this.repo.versions((await this.caseByName(project, caseName)).id);
  }

  async mask(project: Project, caseName: string, version?: number): Promise<{ version: LabelVersion; labels: Uint8Array; case: CaseRow }> {
    const c = await this.caseByName(project, caseName);
    const all = await this.repo.versions(c.id);
    const v = version === undefined ? all[all.length - 1] : all.find((x) => x.version === version);
    if (!v)
      throw new ProjectError(
        `case ${caseName} has no version ${version ?? '(none yet)'}`,
        `its versions are ${all.map((x) => x.version).join(', ') || 'none'}`,
        404,
      );
    return { version: v, labels: this.masks.getMask(v.maskSha, c.dims[0] * c.dims[1] * c.dims[2]), case: c };
  }

  /** DSC and volume change between two versions (b relative to a), in voxels and mL. */
  async diff(
    project: Project,
    caseName: string,
    a: number,
    b: number,
  ): Promise<{ dsc: number; voxelsA: number; voxelsB: number; volumeChangePct: number | null; mlA: number; mlB: number }> {
    const va = await this.mask(project, caseName, a);
    const vb = await this.mask(project, caseName, b);
    const ml = (va.case.spacing[0] * va.case.spacing[1] * va.case.spacing[2]) / 1000;
    const na = va.version.voxels,
      nb = vb.version.voxels;
    return {
      dsc: dice(va.labels, vb.labels),
      voxelsA: na,
      voxelsB: nb,
      volumeChangePct: na ? (100 * (nb - na)) / na : null,
      mlA: na * ml,
      mlB: nb * ml,
    };
  }

  /** Restore = a new version with the old mask (nothing is rewritten). */
  async restore(project: Project, caseName: string, user: string, version: number, baseVersion: number): Promise<LabelVersion> {
    await this.requireRole(project, user, ['annotator']);
    const old = await this.mask(project, caseName, version);
    return this.addVersion(
      project,
      caseName,
      user,
      'save',
      baseVersion,
      { kind: 'person', name: user },
      old.version.maskSha,
      old.version.voxels,
      `restored version ${version}`,
      version,
    );
  }

  // ---- the interaction log ----

  async logInteraction(
    project: Project,
    caseName: string,
    user: string,
    tool: string,
    slice: number | null,
    at: number = Date.now(),
  ): Promise<number> {
    const [seq] = await this.logInteractions(project, caseName, user, [{ tool, slice, at }]);
    return seq!;
  }

  /** Appends interactions by the person holding the case, all or none; returns their seq numbers. */
  async logInteractions(project: Project, caseName: string, user: string, events: readonly InteractionEvent[]): Promise<number[]> {
    const c = await this.caseByName(project, caseName);
    if (c.claimedBy !== user || c.state !== 'in_progress')
      throw new ProjectError(
        `${user} does not hold case ${caseName} (it is ${c.state}${c.claimedBy ? `, claimed by ${c.claimedBy}` : ''})`,
        'claim the case first',
        409,
      );
    for (const { tool, slice, at } of events) {
      if (!/^[\w-]{1,32}$/.test(tool))
        throw new MedsamError(`tool name '${tool}' is not usable`, 'use a short word such as box, point, brush, eraser');
      if (slice !== null && (!Number.isInteger(slice) || slice < 0 || slice >= c.dims[2]))
        throw new MedsamError(
          `slice ${slice} is not a slice of case ${caseName} (0..${c.dims[2] - 1})`,
          'give a 0-based slice index or none',
        );
      if (!Number.isFinite(at)) throw new MedsamError(`interaction time ${at} is not a time`, 'give epoch milliseconds');
    }
    return this.repo.transaction(async (r) => {
      const out: number[] = [];
      for (const e of events) out.push(await r.appendInteraction({ caseId: c.id, user, tool: e.tool, slice: e.slice, at: e.at }));
      return out;
    });
  }
}
