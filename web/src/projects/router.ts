/**
 * The project pages' routes, kept in the URL hash so every page can be bookmarked and reloaded
 * (the server serves projects.html as one static file): #/ lists projects, #/p/NAME is the
 * dashboard, #/p/NAME/queue my queue, #/p/NAME/review the cases waiting for review and
 * #/p/NAME/review/CASE one case's review.
 */

export type Route =
  | { page: 'projects' }
  | { page: 'dashboard'; project: string }
  | { page: 'queue'; project: string }
  | { page: 'reviews'; project: string }
  | { page: 'review'; project: string; caseName: string };

export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p.length > 0)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  if (parts[0] !== 'p' || !parts[1]) return { page: 'projects' };
  const project = parts[1];
  if (parts[2] === 'queue') return { page: 'queue', project };
  if (parts[2] === 'review' && parts[3]) return { page: 'review', project, caseName: parts[3] };
  if (parts[2] === 'review') return { page: 'reviews', project };
  return { page: 'dashboard', project };
}

export function routeHash(r: Route): string {
  const e = encodeURIComponent;
  switch (r.page) {
    case 'projects':
      return '#/';
    case 'dashboard':
      return `#/p/${e(r.project)}`;
    case 'queue':
      return `#/p/${e(r.project)}/queue`;
    case 'reviews':
      return `#/p/${e(r.project)}/review`;
    case 'review':
      return `#/p/${e(r.project)}/review/${e(r.caseName)}`;
  }
}

/** The annotation view of a case: the scan app at / with the case named in the query. */
export function annotateUrl(project: string, caseName: string): string {
  return `./?project=${encodeURIComponent(project)}&case=${encodeURIComponent(caseName)}`;
}

/** The case the scan app was opened on (`?project=&case=`), if any. */
export function caseFromQuery(search: string): { project: string; caseName: string } | undefined {
  const q = new URLSearchParams(search);
  const project = q.get('project');
  const caseName = q.get('case');
  return project && caseName ? { project, caseName } : undefined;
}
