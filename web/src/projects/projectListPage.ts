/** #/ — the projects the signed-in person is a member of, with their progress. */
import { h, table } from './dom.js';
import type { PageContext } from './pageContext.js';
import { statusSegments } from './progressModel.js';
import { routeHash } from './router.js';

export async function renderProjectList(ctx: PageContext): Promise<void> {
  const list = await ctx.api.projects();
  const rows = list.map((p) => {
    const { total, segments } = statusSegments(p.counts ?? {});
    const done = segments.find((s) => s.status === 'accepted')?.count ?? 0;
    return [
      h('a', { href: routeHash({ page: 'dashboard', project: p.name }) }, p.name),
      p.labels.map((l) => l.name).join(', '),
      `${done} / ${total} accepted`,
      h('a', { href: routeHash({ page: 'queue', project: p.name }) }, 'my queue'),
      h('a', { href: routeHash({ page: 'reviews', project: p.name }) }, 'review'),
    ];
  });
  ctx.root.replaceChildren(
    h('h1', {}, 'Projects'),
    list.length
      ? table(['project', 'labels', 'progress', '', ''], rows, { id: 'project-list' })
      : h(
          'p',
          { class: 'muted' },
          'You are a member of no project yet: a server admin creates one (POST /projects or medsam2 project create) and adds you.',
        ),
  );
}
