/**
 * The annotation view of a project case: the scan app (`/?project=P&case=C`) opened on the case's
 * volume with a server session seeded with its latest label version, plus a case bar with Save
 * (a new version on top of the version it started from: a 409 means someone else saved first and
 * offers a reload), Submit, and the interaction log (every prompt, propagation, undo and slice
 * change, sent in batches for the server's active-time measurement). A case whose image is a DICOM
 * series adds "DICOM SEG" to the app's Export: it saves the edits as a version (if unsaved) and
 * downloads that version as a SEG referencing the series, segments named and coloured as the
 * project's labels (the session's own SEG would name them "object N").
 */
import type { App } from '../app.js';
import type { SessionView } from '../api.js';
import './projects.css';
import { describeError } from './actionableError.js';
import { downloadBlob } from '../download.js';
import { InteractionLog } from './interactionLog.js';
import { TOKEN_KEY } from './pageContext.js';
import { isDicomCase, ProjectApi } from './projectApi.js';
import { routeHash } from './router.js';

const FLUSH_MS = 10_000;
/** Slice changes are logged at most this often (scrolling is work, but not 30 events a second). */
const SCROLL_LOG_MS = 1000;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string>, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

export async function startCaseMode(app: App, target: { project: string; caseName: string }): Promise<void> {
  const { project, caseName } = target;
  const token = () => localStorage.getItem(TOKEN_KEY) ?? undefined;
  const api = new ProjectApi('', token);
  const queueUrl = `./projects.html${routeHash({ page: 'queue', project })}`;

  // ---- the case bar ----
  const bar = el('div', { id: 'case-bar' });
  const title = el('strong', { id: 'case-title' }, `Case ${caseName}`);
  const version = el('span', { id: 'case-version', class: 'muted' }, 'loading…');
  const save = el('button', { id: 'case-save', title: 'Save a new label version (Ctrl+S)' }, 'Save');
  const submit = el('button', { id: 'case-submit', title: 'Submit the case for review' }, 'Submit');
  const status = el('span', { id: 'case-status' });
  const conflict = el('span', { id: 'case-conflict', class: 'conflict' });
  const conflictText = el('span', {}, 'someone else saved this case since you opened it — reload to get their version');
  const reload = el('button', { id: 'case-reload' }, 'Reload case');
  conflict.append(conflictText, ' ', reload);
  conflict.hidden = true;
  const action = el('button', { id: 'case-action' });
  action.hidden = true;
  const back = el('a', { class: 'button', href: queueUrl, id: 'case-queue' }, '← My queue');
  bar.append(back, title, version, save, submit, status, conflict, action);
  document.querySelector('header.toolbar')!.after(bar);
  save.disabled = submit.disabled = true;
  reload.addEventListener('click', () => location.reload());
  document.title = `${caseName} — ${project} — medsam2.js`;

  const fail = (e: unknown, what: string) => {
    const d = describeError(e, what);
    app.messages.error(new Error(d.message), d.fix);
    if (d.action === 'reload' && what === 'saving') {
      conflict.hidden = false;
      document.body.dataset.conflict = 'true';
      return;
    }
    action.hidden = false;
    action.textContent = { 'sign-in': 'Sign in…', reload: 'Reload case', retry: 'Retry', back: 'Back to my queue' }[d.action];
    action.onclick = () => {
      action.hidden = true;
      if (d.action === 'sign-in') {
        // The app's Token… prompt is modal: once it returns, the case reopens with the new token.
        document.getElementById('token')?.click();
        location.reload();
      } else if (d.action === 'back') location.href = queueUrl;
      else location.reload();
    };
  };

  let session: SessionView | undefined;
  /** The version this editor started from: a save names it, and the server refuses it if stale. */
  let base = -1;

  // ---- the interaction log ----
  const log = new InteractionLog({ send: (events) => api.logInteractions(project, caseName, events) });
  let dirty = false;
  app.onInteraction = (tool, slice) => {
    log.record(tool, slice);
    if (tool !== 'scroll') dirty = true;
  };
  const sliceChanged = app.viewer.onSliceChange;
  let lastZ = -1,
    lastAt = 0;
  app.viewer.onSliceChange = (z) => {
    sliceChanged(z);
    if (z !== lastZ && Date.now() - lastAt >= SCROLL_LOG_MS && session) {
      lastZ = z;
      lastAt = Date.now();
      log.record('scroll', z);
    }
  };
  const timer = setInterval(() => void log.flush().catch(() => {}), FLUSH_MS);
  window.addEventListener('pagehide', () => {
    clearInterval(timer);
    const events = log.drain();
    if (events.length === 0) return;
    const t = token();
    // keepalive lets the last batch outlive the page (sendBeacon cannot send the token).
    void fetch(`/projects/${encodeURIComponent(project)}/cases/${encodeURIComponent(caseName)}/interactions`, {
      method: 'POST',
      keepalive: true,
      headers: { 'content-type': 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) },
      body: JSON.stringify({ events }),
    }).catch(() => {});
  });

  // ---- open the case ----
  const showVersion = () => {
    version.textContent = base >= 0 ? `editing on v${base}` : 'no version yet';
    version.dataset.base = String(base);
  };
  try {
    const [detail, info, vol] = await Promise.all([api.caseDetail(project, caseName), api.project(project), api.volume(project, caseName)]);
    if (detail.case.reviewComment && detail.case.status !== 'accepted') status.textContent = `review: ${detail.case.reviewComment}`;
    // Opened from the queue's list (a returned case, say) rather than Next case: claim it first.
    if (detail.case.status !== 'in_progress') await api.claim(project, caseName);
    const opened = await api.caseSession(project, caseName);
    session = opened.session;
    base = opened.baseVersion ?? detail.case.latestVersion;
    showVersion();
    // The server seeded the session with the saved version: its masks are the session's own (no underlay).
    const names = new Map(info.project.labels.map((l) => [l.value, l.name] as const));
    await app.openSession(vol.bytes, vol.fileName, session, names);
    if (!app.viewer.loaded) return;
    // The side panel describes the case (the app's own panel describes a file it uploaded).
    const c = detail.case;
    const dims = Array.isArray(c.dims) ? (c.dims as number[]).join(' × ') : app.viewer.dims.join(' × ');
    const spacing = Array.isArray(c.spacing) ? `${(c.spacing as number[]).map((x) => x.toFixed(3)).join(' × ')} mm` : '—';
    const rows: [string, string][] = [
      ['project', project],
      ['case', caseName],
      ['dims', dims],
      ['spacing', spacing],
      ['round', String(c.round)],
      ['mode', c.mode],
      ['opened at', base >= 0 ? `v${base}` : 'no version yet'],
      ['session', session.id.slice(0, 8)],
      ['model', session.model],
    ];
    document.getElementById('info')?.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    if (isDicomCase(c)) offerProjectSeg();
    save.disabled = submit.disabled = false;
    document.body.dataset.caseReady = 'true';
  } catch (e) {
    fail(e, 'opening the case');
    return;
  }

  const propagating = () => !(document.getElementById('cancel') as HTMLButtonElement | null)?.disabled;

  const doSave = async (): Promise<boolean> => {
    if (!session) return false;
    if (propagating()) {
      app.messages.info('wait for the propagation to finish (or cancel it), then save');
      return false;
    }
    save.disabled = submit.disabled = true;
    status.textContent = 'saving…';
    try {
      log.record('save', null);
      await log.flush().catch(() => {});
      const v = await api.saveVersion(project, caseName, base, session.id);
      base = v.version;
      dirty = false;
      showVersion();
      status.textContent = `saved as v${v.version}`;
      app.messages.clear();
      return true;
    } catch (e) {
      status.textContent = 'not saved';
      fail(e, 'saving');
      return false;
    } finally {
      save.disabled = submit.disabled = false;
    }
  };

  /** DICOM SEG in the app's Export menu, exported from the saved version through the project's route. */
  function offerProjectSeg(): void {
    const select = document.getElementById('export-format') as HTMLSelectElement | null;
    if (!select) return;
    if (!select.querySelector('option[value="seg.dcm"]')) select.append(new Option('DICOM SEG', 'seg.dcm'));
    document.body.dataset.caseSeg = 'true';
    // Capture on the document: runs before the app's own Export handler, which it replaces for SEG.
    document.addEventListener(
      'click',
      (e) => {
        if ((e.target as Element | null)?.id !== 'export' || select.value !== 'seg.dcm') return;
        e.stopImmediatePropagation();
        e.preventDefault();
        void exportSeg();
      },
      true,
    );
  }

  async function exportSeg(): Promise<void> {
    if ((dirty || base < 0) && !(await doSave())) return;
    status.textContent = `exporting v${base} as DICOM SEG…`;
    try {
      const f = await api.labelMapFile(project, caseName, base, 'dicom-seg');
      downloadBlob(f.blob, f.fileName);
      status.textContent = `exported ${f.fileName}`;
    } catch (e) {
      status.textContent = 'not exported';
      fail(e, 'exporting');
    }
  }

  save.addEventListener('click', () => void doSave());
  window.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
      e.preventDefault();
      void doSave();
    }
  });
  submit.addEventListener('click', async () => {
    if ((dirty || base < 0) && !(await doSave())) return;
    save.disabled = submit.disabled = true;
    status.textContent = 'submitting…';
    try {
      log.record('submit', null);
      await log.flush().catch(() => {});
      await api.submit(project, caseName);
      status.textContent = 'submitted';
      document.body.dataset.submitted = 'true';
      location.href = queueUrl;
    } catch (e) {
      save.disabled = submit.disabled = false;
      status.textContent = 'not submitted';
      fail(e, 'submitting');
    }
  });
}
