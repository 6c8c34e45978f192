/**
 * #/p/NAME — the project dashboard: progress by status (counts and a bar), by person (annotators ×
 * status), rounds, members, the report page, pre-annotation as a server job with progress, and the
 * Export card (a round's accepted cases as a zip, or to the PACS as DICOM SEGs: exportCard.ts).
 */
import { h, table } from './dom.js';
import { exportCard } from './exportCard.js';
import type { PageContext } from './pageContext.js';
import type { ProjectDetail } from './projectApi.js';
import { personTable, STATUS_LABEL, statusSegments } from './progressModel.js';
import { routeHash } from './router.js';

const PRE_ANNOTATE_SOURCES: [string, string][] = [
  ['recist', 'RECIST marks in the case (MedSAM2 npz)'],
  ['label', 'the label the case carries'],
  ['previous', "the previous round's accepted label"],
  ['auto', 'automatic policy'],
];

function statusBlock(d: ProjectDetail): HTMLElement {
  const { total, segments } = statusSegments(d.counts.byStatus ?? {});
  const bar = h(
    'div',
    { class: 'statusbar', id: 'status-bar', role: 'img', 'aria-label': `${total} cases by status` },
    ...segments
      .filter((s) => s.count > 0)
      .map((s) =>
        h('div', { style: `width:${s.percent}%;background:${s.colour}`, title: `${s.label}: ${s.count}`, 'data-status': s.status }),
      ),
  );
  const legend = h(
    'div',
    { class: 'legend' },
    ...segments.map((s) =>
      h(
        'span',
        { 'data-status': s.status, class: s.count ? '' : 'muted' },
        h('span', { class: 'chip', style: `background:${s.colour}` }),
        `${s.label} `,
        h('strong', { class: 'count' }, s.count),
      ),
    ),
  );
  return h(
    'section',
    { class: 'card', id: 'progress-card' },
    h('h2', {}, `Progress — ${total} case${total === 1 ? '' : 's'}`),
    bar,
    legend,
  );
}

function personBlock(d: ProjectDetail): HTMLElement {
  const t = personTable(d.counts.byPerson ?? {});
  return h(
    'section',
    { class: 'card' },
    h('h2', {}, 'By person'),
    t.rows.length
      ? table(
          ['person', ...t.statuses.map((s) => STATUS_LABEL[s] ?? s), 'total'],
          t.rows.map((r) => [r.person, ...r.counts, r.total]),
          { id: 'by-person' },
        )
      : h('p', { class: 'muted' }, 'nobody has claimed a case yet'),
  );
}

/** Rounds as the server reports them (an array of records or a record per round), shown as a table. */
function roundsBlock(d: ProjectDetail): HTMLElement {
  const raw = d.rounds;
  const list: Record<string, unknown>[] = Array.isArray(raw)
    ? raw.map((r) => (typeof r === 'object' && r !== null ? (r as Record<string, unknown>) : { round: r }))
    : raw && typeof raw === 'object'
      ? Object.entries(raw as Record<string, unknown>).map(([k, v]) => ({
          round: k,
          ...(typeof v === 'object' && v !== null ? v : { value: v }),
        }))
      : [];
  const keys = [...new Set(list.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '—'));
  return h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Rounds'),
    list.length
      ? table(
          keys,
          list.map((r) => keys.map((k) => cell(r[k]))),
          { id: 'rounds' },
        )
      : h('p', { class: 'muted' }, 'no rounds yet'),
  );
}

/** The last pre-annotation job per project, so the card still shows it after the page re-renders. */
const lastJob = new Map<string, { id: string; status: string; progress: number; error?: string | null }>();

export async function renderDashboard(ctx: PageContext, project: string, stale: () => boolean): Promise<() => void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopExport = () => {};
  const stop = () => {
    clearTimeout(timer);
    stopExport();
  };
  const d = await ctx.api.project(project);
  if (stale()) return stop;
  const p = d.project;
  const exporting = exportCard(ctx, project, d, stale);
  stopExport = exporting.stop;

  const source = h(
    'select',
    { id: 'pre-source', 'aria-label': 'pre-annotation prompts' },
    ...PRE_ANNOTATE_SOURCES.map(([v, l]) => h('option', { value: v }, l)),
  );
  const bar = h('progress', { id: 'pre-progress', max: 1, value: 0 });
  const state = h('span', { id: 'pre-state', class: 'muted' }, 'not started');
  const button = h('button', { id: 'pre-annotate' }, 'Pre-annotate');
  const showJob = (j: { id: string; status: string; progress: number; error?: string | null }) => {
    lastJob.set(project, j);
    bar.value = Math.max(0, Math.min(1, j.progress ?? 0));
    state.textContent = `job ${j.id.slice(0, 8)}: ${j.status} ${Math.round(100 * (j.progress ?? 0))} %${j.error ? ` — ${j.error}` : ''}`;
    state.dataset.status = j.status;
  };
  /** Polls the job until it ends; a finished pre-annotation re-renders the page (new counts). */
  const follow = async (jobId: string): Promise<void> => {
    if (stale()) return;
    try {
      const j = await ctx.api.job(jobId);
      if (stale()) return;
      showJob(j);
      if (j.status === 'queued' || j.status === 'running') {
        button.disabled = true;
        timer = setTimeout(() => void follow(jobId), 1000);
        return;
      }
      button.disabled = false;
      if (j.status === 'done') ctx.rerender();
      else ctx.fail(new Error(j.error ?? `the pre-annotation job is ${j.status}`), 'pre-annotating');
    } catch (e) {
      button.disabled = false;
      ctx.fail(e, 'following the pre-annotation job');
    }
  };
  const previous = lastJob.get(project);
  if (previous) {
    showJob(previous);
    if (previous.status === 'queued' || previous.status === 'running') void follow(previous.id);
  }
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const { jobId } = await ctx.api.preAnnotate(project, source.value);
      showJob({ id: jobId, status: 'queued', progress: 0 });
      await follow(jobId);
    } catch (e) {
      button.disabled = false;
      ctx.fail(e, 'starting the pre-annotation');
    }
  });

  const report = h(
    'button',
    { id: 'open-report', title: 'The project report (time per case, DSC, cost saved) in a new tab' },
    'Open report',
  );
  report.addEventListener('click', async () => {
    // The report needs the token, which a plain link cannot carry: fetch it and show it from a blob.
    const tab = window.open('', '_blank');
    try {
      const blob = await ctx.api.reportHtml(project);
      const url = URL.createObjectURL(new Blob([blob], { type: 'text/html' }));
      if (tab) tab.location.href = url;
      else location.href = url;
    } catch (e) {
      tab?.close();
      ctx.fail(e, 'opening the report');
    }
  });

  ctx.root.replaceChildren(
    h('h1', {}, `Project ${p.name}`),
    h(
      'div',
      { class: 'row' },
      h('a', { class: 'button', href: routeHash({ page: 'queue', project }) }, 'My queue →'),
      h('a', { class: 'button', href: routeHash({ page: 'reviews', project }) }, 'Review →'),
      report,
    ),
    h('div', { class: 'cards' }, statusBlock(d), personBlock(d), exporting.card),
    h(
      'div',
      { class: 'cards' },
      h('section', { class: 'card' }, h('h2', {}, 'Pre-annotate'), h('div', { class: 'row' }, source, button), bar, state),
      roundsBlock(d),
      h(
        'section',
        { class: 'card' },
        h('h2', {}, 'Labels'),
        ...p.labels.map((l) =>
          h(
            'div',
            {},
            h('span', { class: 'chip', style: `background:${l.colour ?? '#888'}` }),
            `${l.value} ${l.name}`,
            l.code ? h('span', { class: 'muted' }, ` (${l.code})`) : null,
          ),
        ),
        h('h2', {}, 'Members'),
        table(
          ['name', 'role'],
          d.members.map((m) => [m.name, m.role]),
          { id: 'members' },
        ),
      ),
    ),
  );
  if (p.guidelines)
    ctx.root.append(
      h('section', { class: 'card' }, h('h2', {}, 'Guidelines'), h('p', { style: 'white-space:pre-wrap' }, String(p.guidelines))),
    );
  return stop;
}
