/**
 * The dashboard's numbers as plain data: the status bar's segments (in life-cycle order, with
 * their share of all cases) and the annotator × status table, from GET /projects/:name's counts.
 */

export const STATUS_ORDER = ['new', 'pre_annotated', 'in_progress', 'submitted', 'returned', 'accepted'] as const;

export const STATUS_LABEL: Record<string, string> = {
  new: 'new',
  pre_annotated: 'pre-annotated',
  in_progress: 'in progress',
  submitted: 'submitted',
  returned: 'returned',
  accepted: 'accepted',
};

export const STATUS_COLOUR: Record<string, string> = {
  new: '#5b6270',
  pre_annotated: '#7b61ff',
  in_progress: '#2f8fda',
  submitted: '#e0a100',
  returned: '#e0533d',
  accepted: '#2fb36b',
};

export interface BarSegment {
  status: string;
  label: string;
  count: number;
  /** Share of all cases, 0..100. */
  percent: number;
  colour: string;
}

/** Known statuses first in life-cycle order, then any the server adds, sorted. */
function orderedStatuses(keys: Iterable<string>): string[] {
  const extra = [...new Set(keys)].filter((k) => !(STATUS_ORDER as readonly string[]).includes(k)).sort();
  return [...STATUS_ORDER, ...extra];
}

export function statusSegments(byStatus: Record<string, number>): { total: number; segments: BarSegment[] } {
  const total = Object.values(byStatus).reduce((s, n) => s + Math.max(0, n), 0);
  const segments = orderedStatuses(Object.keys(byStatus)).map((status) => {
    const count = Math.max(0, byStatus[status] ?? 0);
    return {
      status,
      label: STATUS_LABEL[status] ?? status,
      count,
      percent: total > 0 ? (100 * count) / total : 0,
      colour: STATUS_COLOUR[status] ?? '#8a8f99',
    };
  });
  return { total, segments };
}

export interface PersonRow {
  person: string;
  counts: number[];
  total: number;
}

/** Rows per person (sorted by name) over the statuses any of them has, in life-cycle order. */
export function personTable(byPerson: Record<string, Record<string, number>>): { statuses: string[]; rows: PersonRow[] } {
  const seen = new Set<string>();
  for (const c of Object.values(byPerson)) for (const [k, n] of Object.entries(c)) if (n > 0) seen.add(k);
  const statuses = orderedStatuses(seen).filter((s) => seen.has(s));
  const rows = Object.keys(byPerson)
    .sort()
    .map((person) => {
      const counts = statuses.map((s) => byPerson[person]![s] ?? 0);
      return { person, counts, total: counts.reduce((a, b) => a + b, 0) };
    });
  return { statuses, rows };
}

/** "12 s", "3.4 min", "1.2 h" — for active times. */
export function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
