import type { ProjectReport } from './report.js';

/**
 * The report as one self-contained HTML page (no scripts, no external files): the cost-saved
 * headline per round, inline-SVG plots (active time per case by round and mode; pre-annotation
 * vs accepted DSC distribution) and the tables behind them.
 */

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const fmt = (v: number | null, digits = 1): string => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const pct = (v: number | null): string => (v === null ? '—' : `${(100 * v).toFixed(0)} %`);

const ASSISTED = '#2f6fdf';
const MANUAL = '#d9822b';

/** Strip plot: one dot per accepted case, a bar at each group's median. */
function timePlot(r: ProjectReport): string {
  const groups = r.rounds
    .flatMap((s) =>
      (['assisted', 'manual'] as const).map((mode) => ({
        round: s.round,
        mode,
        values: r.cases.filter((c) => c.round === s.round && c.mode === mode).map((c) => c.activeSeconds),
      })),
    )
    .filter((g) => g.values.length > 0);
  const W = 640,
    H = 300,
    L = 56,
    B = 44,
    T = 16;
  const maxV = Math.max(1, ...groups.flatMap((g) => g.values));
  const niceMax = niceCeil(maxV);
  const y = (v: number) => T + (H - T - B) * (1 - v / niceMax);
  const bw = (W - L - 16) / Math.max(1, groups.length);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * niceMax);
  let s = `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Active time per case by round">`;
  for (const t of ticks)
    s += `<line x1="${L}" x2="${W - 8}" y1="${y(t)}" y2="${y(t)}" stroke="#e3e6ea"/><text x="${L - 6}" y="${y(t) + 4}" text-anchor="end" class="ax">${fmt(t, 0)}</text>`;
  s += `<text x="14" y="${(H - B + T) / 2}" transform="rotate(-90 14 ${(H - B + T) / 2})" text-anchor="middle" class="ax">active seconds per case</text>`;
  groups.forEach((g, i) => {
    const cx = L + bw * (i + 0.5);
    const colour = g.mode === 'assisted' ? ASSISTED : MANUAL;
    g.values.forEach((v, k) => {
      const jitter = g.values.length > 1 ? (k / (g.values.length - 1) - 0.5) * Math.min(bw * 0.5, 60) : 0;
      s += `<circle cx="${(cx + jitter).toFixed(1)}" cy="${y(v).toFixed(1)}" r="5" fill="${colour}" fill-opacity="0.75"><title>${fmt(v)} s</title></circle>`;
    });
    const med = [...g.values].sort((a, b) => a - b);
    const m = med.length % 2 ? med[med.length >> 1]! : (med[med.length / 2 - 1]! + med[med.length / 2]!) / 2;
    s += `<line x1="${cx - Math.min(bw * 0.35, 45)}" x2="${cx + Math.min(bw * 0.35, 45)}" y1="${y(m)}" y2="${y(m)}" stroke="#222" stroke-width="2.5"/>`;
    s += `<text x="${cx}" y="${H - B + 18}" text-anchor="middle" class="ax">round ${g.round}</text><text x="${cx}" y="${H - B + 34}" text-anchor="middle" class="ax" fill="${colour}">${g.mode}</text>`;
  });
  return s + '</svg>';
}

/** Histogram of pre-annotation vs accepted DSC, 0.05 wide bins from the lowest value seen. */
function dscPlot(r: ProjectReport): string {
  const values = r.cases.flatMap((c) => (c.preDsc === null ? [] : [c.preDsc]));
  const W = 640,
    H = 260,
    L = 56,
    B = 40,
    T = 16;
  if (values.length === 0) return '<p class="muted">No accepted assisted case yet.</p>';
  const lo = Math.min(0.5, Math.floor(Math.min(...values) * 20) / 20);
  const nb = Math.round((1 - lo) / 0.05);
  const counts = new Array<number>(nb).fill(0);
  for (const v of values) counts[Math.min(nb - 1, Math.floor((v - lo) / 0.05))]!++;
  const maxC = Math.max(...counts);
  const x = (v: number) => L + (W - L - 16) * ((v - lo) / (1 - lo));
  const y = (c: number) => T + (H - T - B) * (1 - c / maxC);
  let s = `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Pre-annotation vs accepted DSC">`;
  for (let c = 0; c <= maxC; c += Math.max(1, Math.ceil(maxC / 5)))
    s += `<line x1="${L}" x2="${W - 8}" y1="${y(c)}" y2="${y(c)}" stroke="#e3e6ea"/><text x="${L - 6}" y="${y(c) + 4}" text-anchor="end" class="ax">${c}</text>`;
  counts.forEach((c, i) => {
    const x0 = x(lo + i * 0.05),
      x1 = x(lo + (i + 1) * 0.05);
    if (c)
      s += `<rect x="${x0 + 1}" y="${y(c)}" width="${x1 - x0 - 2}" height="${H - B - y(c)}" fill="${ASSISTED}" fill-opacity="0.8"><title>${c} case(s), DSC ${(lo + i * 0.05).toFixed(2)}–${(lo + (i + 1) * 0.05).toFixed(2)}</title></rect>`;
  });
  for (let i = 0; i <= nb; i += nb > 10 ? 2 : 1)
    s += `<text x="${x(lo + i * 0.05)}" y="${H - B + 16}" text-anchor="middle" class="ax">${(lo + i * 0.05).toFixed(2)}</text>`;
  s += `<text x="${(W + L) / 2}" y="${H - 6}" text-anchor="middle" class="ax">DSC of the model's pre-annotation against the accepted label</text>`;
  s += `<text x="14" y="${(H - B + T) / 2}" transform="rotate(-90 14 ${(H - B + T) / 2})" text-anchor="middle" class="ax">cases</text>`;
  return s + '</svg>';
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((c) => c >= v) ?? 10 * p;
}

export function reportHtml(r: ProjectReport): string {
  const headline = r.rounds
    .map(
      (s) => `<div class="card"><div class="big">${pct(s.costSaved)}</div><div>cost saved in round ${s.round}</div>
    <div class="muted">median ${fmt(s.medianAssistedSeconds)} s assisted vs ${fmt(s.medianManualSeconds)} s manual (${esc(s.manualBaseline)}) · ${s.assistedCases} assisted, ${s.manualCases} manual cases · model ${esc(s.model)}</div></div>`,
    )
    .join('');
  const groupRows = r.groups
    .map(
      (g) =>
        `<tr><td>${g.round}</td><td>${g.kind === 'mode' ? `<b>${esc(g.group)}</b>` : esc(g.group)}</td><td>${g.cases}</td><td>${fmt(g.medianActiveSeconds)}</td><td>${fmt(g.medianInteractions, 0)}</td><td>${fmt(g.medianSlicesTouched, 0)}</td><td>${fmt(g.medianPreDsc, 3)}</td></tr>`,
    )
    .join('');
  const caseRows = r.cases
    .map(
      (c) =>
        `<tr><td>${c.round}</td><td>${esc(c.case)}</td><td>${c.mode}</td><td>${esc(c.annotators.join(', '))}</td><td>${esc(c.reviewer ?? '')}</td><td>${fmt(c.activeSeconds)}</td><td>${c.interactions}</td><td>${c.slicesTouched}</td><td>${fmt(c.preDsc, 3)}</td><td>${fmt(c.preNsd, 3)}</td><td>${fmt(c.volumeChangePct)}</td><td>${c.acceptedVersion}</td></tr>`,
    )
    .join('');
  const pending = Object.entries(r.pending)
    .map(([k, v]) => `${v} ${k.replace('_', ' ')}`)
    .join(', ');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(r.project)} — annotation report</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232b;margin:0;background:#f6f7f9}
main{max-width:1000px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#68717d;font-size:13px}.cards{display:flex;gap:14px;flex-wrap:wrap;margin-top:16px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:10px;padding:14px 18px;min-width:260px;flex:1}
.big{font-size:34px;font-weight:700;color:${ASSISTED}}
.plot{background:#fff;border:1px solid #e1e4e8;border-radius:10px;padding:10px;display:inline-block}
.ax{font-size:11px;fill:#57606a}
table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}th,td{border-bottom:1px solid #eceef1;padding:5px 8px;text-align:right}
th{background:#f0f2f5;font-weight:600}td:nth-child(2),th:nth-child(2){text-align:left}
.legend span{display:inline-block;width:10px;height:10px;border-radius:5px;margin:0 4px 0 12px}
</style></head><body><main>
<h1>${esc(r.project)} — annotation report</h1>
<div class="muted">Generated ${esc(r.generatedAt)} · active time = sum of gaps between interactions, each capped at ${r.idleSeconds} s · only accepted cases count${pending ? ` · not yet accepted: ${esc(pending)}` : ''}</div>
<div class="cards">${headline || '<div class="card">No accepted case yet.</div>'}</div>
<h2>Active time per case</h2><div class="legend muted"><span style="background:${ASSISTED}"></span>assisted (model pre-annotation, corrected)<span style="background:${MANUAL}"></span>manual (brush and eraser only) · bar = median</div>
<div class="plot">${timePlot(r)}</div>
<h2>How close was the model?</h2><div class="plot">${dscPlot(r)}</div>
<h2>By round, mode and annotator</h2>
<table><thead><tr><th>round</th><th>group</th><th>cases</th><th>median active s</th><th>median interactions</th><th>median slices touched</th><th>median pre-annotation DSC</th></tr></thead><tbody>${groupRows}</tbody></table>
<h2>Cases</h2>
<table><thead><tr><th>round</th><th>case</th><th>mode</th><th>annotators</th><th>reviewer</th><th>active s</th><th>interactions</th><th>slices</th><th>pre DSC</th><th>pre NSD</th><th>volume change %</th><th>accepted version</th></tr></thead><tbody>${caseRows}</tbody></table>
</main></body></html>
`;
}
