/**
 * #/p/NAME/queue — my queue: "Next case" claims the next case (returned-to-me first, then
 * pre-annotated ones, as the server decides) and opens the annotation view on it; the project's
 * cases are listed with their state, assignee, version and any review comment.
 */
import { h, table, timeAgo } from './dom.js';
import type { PageContext } from './pageContext.js';
import { STATUS_COLOUR, STATUS_LABEL } from './progressModel.js';
import { annotateUrl } from './router.js';

export async function renderQueue(ctx: PageContext, project: string): Promise<void> {
  const cases = await ctx.api.cases(project);
  const next = h('button', { id: 'next-case', class: 'active', title: 'Claim the next case and open it' }, 'Next case');
  next.addEventListener('click', async () => {
    next.disabled = true;
    try {
      const c = await ctx.api.next(project);
      if (!c) {
        ctx.info('the queue is empty: no case is waiting for you');
        next.disabled = false;
        return;
      }
      location.href = annotateUrl(project, c.name);
    } catch (e) {
      next.disabled = false;
      ctx.fail(e, 'taking the next case');
    }
  });
  const waiting = cases.filter(
    (c) => c.status === 'pre_annotated' || c.status === 'returned' || (c.status === 'new' && c.mode === 'manual'),
  ).length;
  const rows = cases.map((c) => [
    c.name,
    h(
      'span',
      { 'data-status': c.status },
      h('span', { class: 'chip', style: `background:${STATUS_COLOUR[c.status] ?? '#888'}` }),
      STATUS_LABEL[c.status] ?? c.status,
    ),
    c.assignee ?? '—',
    c.mode,
    c.round,
    c.latestVersion >= 0 ? `v${c.latestVersion}` : '—',
    c.status === 'in_progress' ? timeAgo(c.claimExpiresAt) : '',
    c.reviewComment ?? '',
    c.status === 'in_progress' || c.status === 'returned' ? h('a', { href: annotateUrl(project, c.name) }, 'open') : '',
  ]);
  ctx.root.replaceChildren(
    h('h1', {}, `My queue — ${project}`),
    h('div', { class: 'row' }, next, h('span', { class: 'muted', id: 'waiting' }, `${waiting} case${waiting === 1 ? '' : 's'} waiting`)),
    h('h2', {}, 'Cases'),
    table(['case', 'status', 'assignee', 'mode', 'round', 'version', 'claim until', 'review comment', ''], rows, { id: 'cases' }),
  );
}
