/**
 * The dashboard's Export card: a round's accepted cases as a zip (POST /projects/{name}/export, a
 * server job followed here with its progress, then offered as a download), and Send to PACS of the
 * same round (POST /projects/{name}/send-to-pacs: one DICOM SEG per accepted DICOM case, to the
 * PACS the server was started with; also a server job, its progress shown under the button, cases
 * sent so far counted). A send or an export under way when the card is drawn (the page reloaded,
 * or opened in another tab, while it runs) is found in the project's jobs (GET /jobs filtered by
 * project and kind) and followed the same way, Cancel send included; an export just finished is
 * offered for download. Failures go to the page's message bar in one line.
 */
import { downloadBlob } from '../download.js';
import { h } from './dom.js';
import type { PageContext } from './pageContext.js';
import { type JobView, NO_PACS, type PacsRoundView, type ProjectDetail, ROUND_EXPORT_FORMATS } from './projectApi.js';

interface ExportState {
  job: JobView;
  round: number;
  format: string;
}

/** The last export per project, so the card still offers its download after the page re-renders. */
const lastExport = new Map<string, ExportState>();

const running = (j: JobView) => j.status === 'queued' || j.status === 'running';

/** The rounds the project has (the server lists them as numbers; round 1 when there is no case yet). */
function roundsOf(d: ProjectDetail): number[] {
  const r = Array.isArray(d.rounds) ? d.rounds.filter((x): x is number => typeof x === 'number') : [];
  return r.length ? r : [1];
}

export function exportCard(
  ctx: PageContext,
  project: string,
  d: ProjectDetail,
  stale: () => boolean,
): { card: HTMLElement; stop: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sendTimer: ReturnType<typeof setTimeout> | undefined;
  const rounds = roundsOf(d);
  const round = h(
    'select',
    { id: 'export-round', 'aria-label': 'round to export' },
    ...rounds.map((r) => h('option', { value: r }, `round ${r}`)),
  );
  round.value = String(rounds.at(-1));
  const format = h(
    'select',
    { id: 'export-format', 'aria-label': 'export format' },
    ...ROUND_EXPORT_FORMATS.map(([v, l]) => h('option', { value: v }, l)),
  );
  const start = h('button', { id: 'export-start', title: "Export the round's accepted cases as a zip" }, 'Export');
  const bar = h('progress', { id: 'export-progress', max: 1, value: 0 });
  const state = h('span', { id: 'export-state', class: 'muted' }, 'not started');
  const download = h('button', { id: 'export-download', class: 'active', hidden: true }, 'Download zip');
  const accepted = d.counts.byStatus?.accepted ?? 0;

  // The server lets reviewers and admins export and send (an annotator's or viewer's click would be a 403).
  const mayExport = d.myRole === undefined || d.myRole === null || d.myRole === 'admin' || d.myRole === 'reviewer';
  const notYours = `Only the project's reviewers and admins export and send to the PACS (you are ${d.myRole})`;
  if (!mayExport) {
    start.disabled = true;
    start.title = notYours;
  }
  const pacs = d.pacs ?? null;
  const send = h('button', { id: 'send-round-pacs' }, 'Send round to PACS');
  const sendBlocker = !pacs ? NO_PACS : mayExport ? null : notYours;
  send.disabled = sendBlocker !== null;
  send.title =
    sendBlocker ?? `Store a DICOM SEG of every accepted case from a DICOM series at ${pacs} (cases from other images are skipped)`;
  const sendBar = h('progress', { id: 'pacs-progress', max: 1, value: 0, hidden: true });
  const sendState = h('span', { id: 'pacs-state', class: 'muted', hidden: true }, '');
  const cancelSend = h(
    'button',
    { id: 'pacs-cancel', hidden: true, title: 'Stop after the case being sent (those sent stay sent)' },
    'Cancel send',
  );
  let sendJob: string | undefined;

  const show = (s: ExportState) => {
    lastExport.set(project, s);
    const j = s.job;
    bar.value = Math.max(0, Math.min(1, j.progress ?? 0));
    const files = (j.result as { files?: number } | undefined)?.files;
    state.textContent = `round ${s.round}, ${s.format}: ${j.status}${running(j) ? ` ${Math.round(100 * (j.progress ?? 0))} %` : ''}${
      j.status === 'done' && files !== undefined ? ` — ${files} file${files === 1 ? '' : 's'}` : ''
    }`;
    state.dataset.status = j.status;
    download.hidden = j.status !== 'done';
    start.disabled = running(j) || !mayExport;
  };
  /** Polls the job until it ends; a failed export is shown in the message bar. */
  const follow = async (s: ExportState): Promise<void> => {
    if (stale()) return;
    try {
      const j = await ctx.api.job(s.job.id);
      if (stale()) return;
      show({ ...s, job: j });
      if (running(j)) {
        timer = setTimeout(() => void follow({ ...s, job: j }), 500);
        return;
      }
      if (j.status !== 'done') ctx.fail(new Error(j.error ?? `the export job is ${j.status}`), 'exporting');
    } catch (e) {
      start.disabled = !mayExport;
      ctx.fail(e, 'following the export job');
    }
  };
  const previous = lastExport.get(project);
  if (previous) {
    show(previous);
    if (running(previous.job)) void follow(previous);
  }

  /** An export was started on this card: nothing found in the jobs list replaces it. */
  let startedHere = false;
  start.addEventListener('click', async () => {
    startedHere = true;
    start.disabled = true;
    download.hidden = true;
    const s = { round: Number(round.value), format: format.value };
    try {
      const { jobId } = await ctx.api.exportRound(project, s.round, s.format);
      const job: JobView = { id: jobId, status: 'queued', progress: 0 };
      show({ ...s, job });
      await follow({ ...s, job });
    } catch (e) {
      start.disabled = !mayExport;
      ctx.fail(e, 'starting the export');
    }
  });
  download.addEventListener('click', async () => {
    const s = lastExport.get(project);
    if (!s) return;
    download.disabled = true;
    try {
      const { blob } = await ctx.api.jobResult(s.job.id);
      const fileName = `${project}-round${s.round}-${s.format}.zip`;
      downloadBlob(blob, fileName);
      ctx.info(`downloaded ${fileName}`);
    } catch (e) {
      ctx.fail(e, 'downloading the export');
    } finally {
      download.disabled = false;
    }
  });
  /** A cancelled send whose SEG on its way is not recorded yet: it still sends (and lists) that one. */
  const stopping = (j: JobView) => j.status === 'cancelled' && (j.result as PacsRoundView | null)?.stopped === false;
  /** Shows a send-to-pacs job's progress (of round `r`, unless its result names the round); when it ends, says what went in the message bar. */
  const showSend = (r: number | undefined, j: JobView): void => {
    const res = (j.result ?? null) as PacsRoundView | null;
    r = res?.round ?? r;
    const n = res?.sent.length ?? 0;
    sendBar.hidden = false;
    sendState.hidden = false;
    sendBar.value = Math.max(0, Math.min(1, j.progress ?? 0));
    const how = running(j) ? ` ${Math.round(100 * (j.progress ?? 0))} %` : stopping(j) ? ', stopping after the SEG on its way' : '';
    sendState.textContent = `PACS send${r === undefined ? '' : ` of round ${r}`}: ${j.status}${how} — ${n} SEG${n === 1 ? '' : 's'} sent`;
    sendState.dataset.status = stopping(j) ? 'stopping' : j.status;
    cancelSend.hidden = !running(j) || !mayExport;
  };
  const followSend = async (r: number | undefined, id: string): Promise<void> => {
    if (stale()) return;
    try {
      const j = await ctx.api.job(id);
      if (stale()) return;
      showSend(r, j);
      if (running(j) || stopping(j)) {
        sendTimer = setTimeout(() => void followSend(r, id), 500);
        return;
      }
      send.disabled = sendBlocker !== null;
      const out = j.result as PacsRoundView | null;
      const sent = out?.sent.length ?? 0;
      const ofRound = (out?.round ?? r) === undefined ? '' : ` of round ${out?.round ?? r}`;
      const what = `${sent} DICOM SEG${sent === 1 ? '' : 's'}${ofRound} to the PACS at ${out?.pacs ?? pacs}`;
      if (j.status === 'done') {
        const skipped = out?.skipped.length ? `; skipped ${out.skipped.map((x) => x.case).join(', ')} (not from a DICOM series)` : '';
        ctx.info(`sent ${what}${skipped}`);
      } else if (j.status === 'cancelled') ctx.info(`${j.error ?? 'cancelled'}: sent ${what} before it stopped`);
      else ctx.fail(new Error(`${j.error ?? `the PACS send is ${j.status}`} (sent ${what} before it)`), 'sending to the PACS');
    } catch (e) {
      send.disabled = sendBlocker !== null;
      ctx.fail(e, 'following the PACS send');
    }
  };
  send.addEventListener('click', async () => {
    send.disabled = true;
    const r = Number(round.value);
    try {
      const { jobId } = await ctx.api.sendRoundToPacs(project, r);
      sendJob = jobId;
      showSend(r, { id: jobId, status: 'queued', progress: 0 });
      await followSend(r, jobId);
    } catch (e) {
      send.disabled = sendBlocker !== null;
      ctx.fail(e, 'sending to the PACS');
    }
  });
  cancelSend.addEventListener('click', async () => {
    if (!sendJob) return;
    cancelSend.disabled = true;
    try {
      await ctx.api.cancelJob(sendJob);
    } catch (e) {
      ctx.fail(e, 'cancelling the PACS send');
    } finally {
      cancelSend.disabled = false;
    }
  });

  /**
   * The project's send that is under way (queued, running, or cancelled and still stopping) when
   * the card is drawn, e.g. after a reload or in another tab: followed as if started here.
   */
  const pickUpSend = async (): Promise<void> => {
    try {
      const [j] = await ctx.api.jobs({ project, kind: ['send-to-pacs'], status: ['queued', 'running', 'cancelled'], limit: 1 });
      if (stale() || sendJob || !j || !(running(j) || stopping(j))) return;
      sendJob = j.id;
      send.disabled = true;
      showSend(undefined, j);
      await followSend(undefined, j.id);
    } catch (e) {
      ctx.fail(e, 'looking for a PACS send under way');
    }
  };
  /**
   * The project's latest export when the card is drawn, if it is under way (followed as if started
   * here) or done (its download offered): after a reload, or started in another tab.
   */
  const pickUpExport = async (): Promise<void> => {
    try {
      const [j] = await ctx.api.jobs({ project, kind: ['export'], limit: 1 });
      if (stale() || startedHere || !j || !(running(j) || j.status === 'done') || lastExport.get(project)?.job.id === j.id) return;
      const s: ExportState = {
        job: j,
        round: typeof j.round === 'number' ? j.round : Number(round.value),
        format: typeof j.format === 'string' ? j.format : format.value,
      };
      // The pickers say what the job shown exports (when they offer it).
      for (const [picker, v] of [
        [round, String(s.round)],
        [format, s.format],
      ] as const)
        if ([...picker.options].some((o) => o.value === v)) picker.value = v;
      show(s);
      if (running(j)) await follow(s);
    } catch (e) {
      ctx.fail(e, 'looking for an export under way');
    }
  };
  void pickUpSend();
  void pickUpExport();

  const card = h(
    'section',
    { class: 'card', id: 'export-card' },
    h('h2', {}, 'Export'),
    h('p', { class: 'muted' }, `The accepted cases of a round (${accepted} accepted in the project), with a manifest tracing each label.`),
    h('div', { class: 'row' }, round, format),
    h('div', { class: 'row' }, start, download, send, cancelSend),
    bar,
    state,
    sendBar,
    sendState,
  );
  return {
    card,
    stop: () => {
      clearTimeout(timer);
      clearTimeout(sendTimer);
    },
  };
}
