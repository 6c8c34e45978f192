/**
 * Entry of projects.html: the project list, dashboard, my queue and review pages (issue #12),
 * routed by the URL hash (router.ts). The annotation view itself is the scan app at `/` opened on
 * a case (caseMode.ts).
 */
import { renderDashboard } from './dashboardPage.js';
import { h } from './dom.js';
import { PageContext } from './pageContext.js';
import { renderProjectList } from './projectListPage.js';
import { renderQueue } from './queuePage.js';
import { renderReview, renderReviewList } from './reviewPage.js';
import { parseRoute, type Route, routeHash } from './router.js';

const ctx = new PageContext();
let generation = 0;
let cleanup: (() => void) | undefined;

function nav(route: Route): void {
  const links: HTMLElement[] = [];
  if (route.page !== 'projects') {
    const p = route.project;
    const link = (r: Route, label: string, active: boolean) =>
      h('a', { class: `button${active ? ' active' : ''}`, href: routeHash(r) }, label);
    links.push(
      link({ page: 'dashboard', project: p }, `Dashboard · ${p}`, route.page === 'dashboard'),
      link({ page: 'queue', project: p }, 'My queue', route.page === 'queue'),
      link({ page: 'reviews', project: p }, 'Review', route.page === 'reviews' || route.page === 'review'),
    );
  }
  document.getElementById('nav')!.replaceChildren(...links);
}

async function render(): Promise<void> {
  const mine = ++generation;
  cleanup?.();
  cleanup = undefined;
  const route = parseRoute(location.hash);
  nav(route);
  ctx.clear();
  ctx.root.replaceChildren(h('p', { class: 'muted' }, 'loading…'));
  document.body.dataset.page = route.page;
  document.body.dataset.pageState = 'loading';
  const stale = () => mine !== generation;
  try {
    if (route.page === 'projects') await renderProjectList(ctx);
    else if (route.page === 'dashboard') cleanup = await renderDashboard(ctx, route.project, stale);
    else if (route.page === 'queue') await renderQueue(ctx, route.project);
    else if (route.page === 'reviews') await renderReviewList(ctx, route.project);
    else cleanup = await renderReview(ctx, route.project, route.caseName, stale);
    if (!stale()) document.body.dataset.pageState = 'ready';
  } catch (e) {
    if (stale()) return;
    ctx.root.replaceChildren();
    ctx.fail(e, `opening the ${route.page} page`);
  }
}

ctx.rerender = () => void render();
document.getElementById('sign-in')!.addEventListener('click', () => ctx.signIn());
window.addEventListener('hashchange', () => void render());
window.addEventListener('unhandledrejection', (e) => ctx.fail(e.reason));
document.body.dataset.ready = 'true';
void render();
