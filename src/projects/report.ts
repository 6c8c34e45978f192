import { segmentationMetrics } from '../metrics/segmentationMetrics.js';
import { measureWork, median } from './activeTime.js';
import type { ProjectService } from './projectService.js';
import type { Project } from './types.js';

/**
 * The project report: what the loop cost and what the model saved, from the interaction log and
 * the label versions. Only accepted cases count. Per case: active time (gaps capped at the
 * project's idle threshold), interactions, slices touched, and the pre-annotation (version 0)
 * against the accepted label (DSC, NSD at 2 mm, volume change). Cost saved per round =
 * 1 − median assisted active time / median manual active time.
 */

export interface CaseReportRow {
  round: number;
  case: string;
  mode: 'assisted' | 'manual';
  annotators: string[];
  reviewer: string | null;
  activeSeconds: number;
  interactions: number;
  slicesTouched: number;
  versions: number;
  acceptedVersion: number;
  /** Pre-annotation vs accepted label; null for manual cases. */
  preDsc: number | null;
  preNsd: number | null;
  volumeChangePct: number | null;
}

export interface GroupRow {
  round: number;
  /** 'assisted', 'manual', or an annotator's name with the mode, 'alice (assisted)'. */
  group: string;
  kind: 'mode' | 'annotator';
  cases: number;
  medianActiveSeconds: number | null;
  medianInteractions: number | null;
  medianSlicesTouched: number | null;
  medianPreDsc: number | null;
}

export interface RoundSummary {
  round: number;
  model: string;
  assistedCases: number;
  manualCases: number;
  medianAssistedSeconds: number | null;
  medianManualSeconds: number | null;
  /** Where the manual baseline came from: this round's manual cases, or all rounds' when it has none. */
  manualBaseline: 'this round' | 'all rounds' | 'none';
  costSaved: number | null;
  medianPreDsc: number | null;
}

export interface ProjectReport {
  project: string;
  generatedAt: string;
  idleSeconds: number;
  labels: Project['labels'];
  rounds: RoundSummary[];
  groups: GroupRow[];
  cases: CaseReportRow[];
  /** Cases not yet accepted, by state. */
  pending: Record<string, number>;
}

export async function buildReport(svc: ProjectService, project: Project): Promise<ProjectReport> {
  const all = await svc.repo.listCases(project.id);
  const rows: CaseReportRow[] = [];
  const perAnnotator: {
    round: number;
    user: string;
    mode: 'assisted' | 'manual';
    activeSeconds: number;
    interactions: number;
    slicesTouched: number;
    preDsc: number | null;
  }[] = [];
  const pending: Record<string, number> = {};
  const modelByRound = new Map<number, string>();
  for (const c of all) {
    if (c.state !== 'accepted') {
      pending[c.state] = (pending[c.state] ?? 0) + 1;
      continue;
    }
    const log = await svc.repo.interactions(c.id);
    const versions = await svc.repo.versions(c.id);
    const head = versions[versions.length - 1]!;
    const users = [...new Set(log.map((i) => i.user))];
    const w = users.map((u) => ({
      u,
      m: measureWork(
        log.filter((i) => i.user === u),
        project.idleSeconds,
      ),
    }));
    let preDsc: number | null = null,
      preNsd: number | null = null,
      volumeChangePct: number | null = null;
    const v0 = versions.find((v) => v.version === 0 && v.author.kind === 'model');
    if (c.mode === 'assisted' && v0) {
      if (v0.author.kind === 'model') modelByRound.set(c.round, `${v0.author.model}@${v0.author.version}`);
      const n = c.dims[0] * c.dims[1] * c.dims[2];
      const pre = svc.masks.getMask(v0.maskSha, n);
      const fin = svc.masks.getMask(head.maskSha, n);
      const m = segmentationMetrics(pre, fin, c.dims, c.spacing);
      preDsc = m.dsc;
      preNsd = m.nsd;
      volumeChangePct = v0.voxels ? (100 * (head.voxels - v0.voxels)) / v0.voxels : null;
    }
    const all = measureWork(log, project.idleSeconds);
    // Time is per person: two people's overlapping logs are two people's time.
    const activeSeconds = w.reduce((s, x) => s + x.m.activeSeconds, 0);
    rows.push({
      round: c.round,
      case: c.name,
      mode: c.mode,
      annotators: users,
      reviewer: c.reviewedBy,
      activeSeconds,
      interactions: all.interactions,
      slicesTouched: all.slicesTouched,
      versions: versions.length,
      acceptedVersion: head.version,
      preDsc,
      preNsd,
      volumeChangePct,
    });
    for (const x of w) perAnnotator.push({ round: c.round, user: x.u, mode: c.mode, ...x.m, preDsc });
  }
  const rounds = [...new Set(rows.map((r) => r.round))].sort((a, b) => a - b);
  const groups: GroupRow[] = [];
  const summaries: RoundSummary[] = [];
  const group = (
    round: number,
    name: string,
    kind: GroupRow['kind'],
    xs: { activeSeconds: number; interactions: number; slicesTouched: number; preDsc: number | null }[],
  ): GroupRow => ({
    round,
    group: name,
    kind,
    cases: xs.length,
    medianActiveSeconds: median(xs.map((x) => x.activeSeconds)),
    medianInteractions: median(xs.map((x) => x.interactions)),
    medianSlicesTouched: median(xs.map((x) => x.slicesTouched)),
    medianPreDsc: median(xs.flatMap((x) => (x.preDsc === null ? [] : [x.preDsc]))),
  });
  const allManual = rows.filter((r) => r.mode === 'manual');
  for (const round of rounds) {
    const inRound = rows.filter((r) => r.round === round);
    const assisted = inRound.filter((r) => r.mode === 'assisted');
    const manual = inRound.filter((r) => r.mode === 'manual');
    if (assisted.length) groups.push(group(round, 'assisted', 'mode', assisted));
    if (manual.length) groups.push(group(round, 'manual', 'mode', manual));
    // Per annotator and mode: one person's assisted and manual cases are not one population.
    for (const u of [...new Set(perAnnotator.filter((x) => x.round === round).map((x) => x.user))].sort()) {
      for (const mode of ['assisted', 'manual'] as const) {
        const xs = perAnnotator.filter((x) => x.round === round && x.user === u && x.mode === mode);
        if (xs.length) groups.push(group(round, `${u} (${mode})`, 'annotator', xs));
      }
    }
    const base = manual.length ? manual : allManual;
    const ma = median(assisted.map((r) => r.activeSeconds));
    const mm = median(base.map((r) => r.activeSeconds));
    summaries.push({
      round,
      model: modelByRound.get(round) ?? '—',
      assistedCases: assisted.length,
      manualCases: manual.length,
      medianAssistedSeconds: ma,
      medianManualSeconds: mm,
      manualBaseline: manual.length ? 'this round' : allManual.length ? 'all rounds' : 'none',
      costSaved: ma !== null && mm ? 1 - ma / mm : null,
      medianPreDsc: median(assisted.flatMap((r) => (r.preDsc === null ? [] : [r.preDsc]))),
    });
  }
  return {
    project: project.name,
    generatedAt: new Date().toISOString(),
    idleSeconds: project.idleSeconds,
    labels: project.labels,
    rounds: summaries,
    groups,
    cases: rows,
    pending,
  };
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = Array.isArray(v) ? v.join(' ') : typeof v === 'number' ? String(Math.round(v * 10000) / 10000) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv<T extends object>(rows: readonly T[], columns: (keyof T)[]): string {
  return [columns.join(','), ...rows.map((r) => columns.map((k) => csvCell(r[k])).join(','))].join('\n') + '\n';
}
