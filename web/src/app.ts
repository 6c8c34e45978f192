/**
 * The app's controller: opening a scan (upload + display), prompt tools on the axial view, the
 * brush / eraser (literal mask edits), the object list, propagation with streamed progress and
 * cancel, undo / redo, export, an access token a person can enter when the server asks for one,
 * and reload recovery. It talks to `medsam2 serve` only through Api and draws only through Viewer.
 */
import { Api, ApiError, type SessionView, type SliceMask, type UploadView } from './api.js';
import { BusyGuard } from './busyGuard.js';
import { History } from './history.js';
import { Messages, UserError } from './messages.js';
import { droppedFiles } from './droppedFiles.js';
import { npzToNifti } from './npzVolume.js';
import { LOCAL_SCAN, planOpen, type OpenPlan } from './openScan.js';
import { renderObjects } from './objectList.js';
import { decodeRle } from './rle.js';
import { niftiLabels } from './storedLabels.js';
import { loadFile, loadState, saveFile, saveState, type SavedObject, type SavedState, type SavedView } from './savedState.js';
import { installShortcuts, type Shortcut } from './shortcuts.js';
import { BrushTool, brushShortcuts, strokeStatus } from './tools/brush.js';
import { VideoMode } from './video/videoMode.js';
import { Viewer, type VoxelHit, type ViewLayout } from './viewer.js';
import { WindowControl } from './windowControl.js';
import { downloadBlob } from './download.js';
import type { PropagationTimings } from './propagationTimings.js';

type Tool = 'navigate' | 'box' | 'positive' | 'negative' | 'recist' | 'brush' | 'eraser';

/**
 * Overlay redraws during propagation: at most this often, and taking at most this share of the
 * time (see Viewer.scheduleRefresh). With a GPU a redraw costs milliseconds and masks show 4 times
 * a second; on a CPU-rendered WebGL it costs 100+ ms of the cores the model runs on, so they show
 * every second or two.
 */
const PROPAGATION_REFRESH_MS = 250;
const PROPAGATION_DRAW_SHARE = 0.1;

/** NiiVue's view (0 axial, 1 coronal, 2 sagittal) → the voxel axis its slices are cut along. */
const VIEW_AXIS = [2, 1, 0] as const;

/** A hit as the server counts slices along `axis`: slice index, column, row (src/preprocess/slices.ts). */
function onSlice(hit: VoxelHit, axis: number): { slice: number; col: number; row: number } {
  if (axis === 2) return { slice: Math.round(hit.z), col: hit.x, row: hit.y };
  if (axis === 1) return { slice: Math.round(hit.y), col: hit.x, row: hit.z };
  return { slice: Math.round(hit.x), col: hit.y, row: hit.z };
}
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export class App {
  readonly api = new Api('', () => localStorage.getItem('medsam2.token') ?? undefined);
  readonly viewer = new Viewer($('gl'));
  readonly messages = new Messages();
  /** The Window list and the W/L readout, following the viewer (a Navigate drag reads "custom"). */
  readonly windowControl = new WindowControl($('window'), $('wl-readout'), this.viewer, () => this.persistSoon());
  /** Videos and frame folders open here instead of in the NiiVue viewer. */
  readonly video = new VideoMode(this.api, this.messages, (f) => void this.openFile(f));
  private tool: Tool = 'navigate';
  private session?: SessionView;
  private fileName = '';
  private upload?: SavedState['upload'];
  private objects: SavedObject[] = [];
  private activeObj = 1;
  private propagating = false;
  readonly brush = new BrushTool();
  /** One action at a time (shared with video mode's own guard: web/src/busyGuard.ts). */
  private readonly guard = new BusyGuard({
    messages: this.messages,
    fail: (e) => this.fail(e),
    setStatus: (s) => this.setStatus(s),
    settled: () => this.render(),
  });
  readonly history = new History({
    api: this.api,
    messages: this.messages,
    guard: this.guard,
    session: () => this.session,
    blocked: () => this.propagating,
    pending: () => this.brush.settled(),
    reload: async (s) => {
      this.session = s;
      await this.reloadMasks();
    },
    setStatus: (s) => this.setStatus(s),
    onStep: (step) => {
      if (step === 'undo') this.onInteraction('undo', null);
    },
  });
  /** A box / line / click in progress: where it started, in the slice's pixels along `axis`. */
  private dragStart?: { x: number; y: number; cx: number; cy: number; z: number; axis: number; view: number };
  /** Where a Navigate press began: a release there is a click that moves the crosshair (a drag windows). */
  private navigatePress?: { x: number; y: number };
  /** Slices where the overlay shows each object (so a refresh knows what to clear). */
  private shown = new Map<number, Set<number>>();
  /** The last completed propagation's timings. */
  lastPropagation?: PropagationTimings;
  /** Told of every prompt, propagation and undo (a project case logs them: projects/caseMode.ts). */
  onInteraction: (tool: string, slice: number | null) => void = () => {};

  async start(opts: { restore?: boolean } = {}): Promise<void> {
    await this.viewer.attach();
    this.wire();
    this.setTool('navigate');
    this.render();
    (window as unknown as { medsam2: App }).medsam2 = this;
    document.body.dataset.ready = 'true';
    if (opts.restore !== false && (await this.video.restore())) return;
    const saved = loadState();
    if (saved && opts.restore !== false) await this.restore(saved);
  }

  /**
   * Shows `bytes` with an existing server session (a project case, seeded by the server with its
   * latest label version), naming objects by `names`; not kept for reload (the case is reopened
   * from the server).
   */
  async openSession(bytes: Uint8Array, fileName: string, session: SessionView, names: Map<number, string>): Promise<void> {
    this.video.close();
    await this.run('opening', async () => {
      await this.display(bytes, fileName);
      this.onePlaneLayout();
      this.session = session;
      this.fileName = fileName;
      this.upload = undefined;
      const ids = session.objects.length ? session.objects.map((o) => o.objId) : [[...names.keys()][0] ?? 1];
      this.objects = ids.map((objId) => ({ objId, name: names.get(objId) ?? `object ${objId}`, hidden: false }));
      this.activeObj = this.objects[0]!.objId;
      await this.reloadMasks();
      this.showInfo();
      this.setTool('box');
      this.setStatus(`opened ${fileName}`);
    });
  }

  // ---------- opening ----------

  openFile(file: File): Promise<void> {
    return this.openFiles([file]);
  }

  /** One file, several, or a folder's (web/src/openScan.ts decides the path each takes). */
  async openFiles(files: File[], opts: { folder?: boolean } = {}): Promise<void> {
    let plan: OpenPlan | undefined;
    // Reading, packing and uploading a DICOM folder show their progress and stop on Cancel.
    const abort = new AbortController();
    this.opening = abort;
    this.render();
    const work = { signal: abort.signal, onProgress: (what: string, n: number, total: number) => this.showWork(what, n, total) };
    try {
      this.setStatus('reading…');
      plan = await planOpen(files, { ...opts, work });
    } catch (e) {
      this.endOpening(abort);
      if (abort.signal.aborted) return this.setStatus('cancelled: nothing opened');
      this.setStatus('idle');
      this.fail(e);
      return;
    }
    if (plan?.kind === 'server') return this.openUploaded(plan, abort);
    this.endOpening(abort);
    if (!plan) return this.setStatus('nothing opened');
    if (plan.kind === 'video') return this.video.open(plan.file);
    if (plan.kind === 'frames') return this.video.openFolder(plan.files);
    this.video.close();
    const file = plan.file;
    const bytes = new Uint8Array(await file.arrayBuffer());
    await this.run('opening', async () => {
      this.setStatus(`uploading ${file.name}…`);
      // A new scan: the last one's dragged window and propagation progress are not its own.
      this.windowControl.newScan();
      $<HTMLProgressElement>('progress').value = 0;
      await this.display(bytes, file.name);
      // The view now shows the new scan: an old session's prompts must not land on it.
      this.session = undefined;
      this.fileName = file.name;
      this.viewer.clearAll();
      const upload = await this.api.upload(new Blob([bytes]), file.name);
      this.setStatus('starting a session (the model loads once)…');
      const session = await this.api.createSession(upload.id);
      this.session = session;
      this.fileName = file.name;
      await this.begin(upload, bytes);
    });
  }

  /**
   * A scan NiiVue cannot read (DICOM, PNG, JPEG): uploaded first, then drawn from the server's
   * reading of it, so the voxels shown are the ones the session segments (openScan.ts).
   */
  private async openUploaded(plan: Extract<OpenPlan, { kind: 'server' }>, abort: AbortController): Promise<void> {
    await this.run('opening', async () => {
      this.setStatus(`uploading ${plan.label}…`);
      this.video.close();
      $<HTMLProgressElement>('progress').value = 0;
      const previous = this.session;
      this.session = undefined;
      let upload: UploadView;
      try {
        upload = await this.api.uploadWithProgress(plan.blob, plan.name, {
          signal: abort.signal,
          onProgress: (sent, total) => this.showWork('uploading', sent, total),
        });
      } catch (e) {
        if (!abort.signal.aborted) throw e;
        // Nothing changed: the scan shown keeps its session.
        this.session = previous;
        this.setStatus('cancelled: nothing opened');
        return;
      } finally {
        // Once uploaded, the server's reading is not the browser's to cancel.
        this.endOpening(abort);
      }
      this.windowControl.newScan();
      this.setStatus('starting a session (the model loads once)…');
      const session = await this.api.createSession(upload.id);
      const bytes = await this.api.displayVolume(upload.id);
      await this.display(bytes, displayName(plan.label));
      this.onePlaneLayout();
      this.viewer.clearAll();
      this.session = session;
      this.fileName = plan.label;
      await this.begin(upload, bytes);
    });
    this.endOpening(abort);
  }

  /** A picture has one plane: the axial view alone (coronal and sagittal would be one-pixel lines). */
  private onePlaneLayout(): void {
    if (this.viewer.dims[2] !== 1) return;
    $<HTMLSelectElement>('layout').value = 'axial';
    this.viewer.setLayout('axial');
    this.showSliceBar();
  }

  /** The state of a scan just opened with its new session: one object, kept for reload. */
  private async begin(upload: UploadView, shownBytes: Uint8Array): Promise<void> {
    this.upload = {
      format: upload.format,
      dims: upload.dims,
      spacing: upload.spacing,
      modality: upload.modality ?? null,
      bytes: upload.bytes,
    };
    this.objects = [{ objId: 1, name: 'object 1', hidden: false }];
    this.activeObj = 1;
    this.shown.clear();
    offerSegExport(upload.format === 'dicom-zip');
    await saveFile(shownBytes).catch(() => this.messages.info('this browser cannot keep the scan for reload (IndexedDB unavailable)'));
    this.persist();
    this.showInfo();
    this.setTool('box');
    this.setStatus('draw a box on the object (any view)');
  }

  private async display(bytes: Uint8Array, name: string): Promise<void> {
    try {
      if (/\.npz$/i.test(name)) {
        const { nifti } = await npzToNifti(bytes, name);
        await this.viewer.show(nifti, name.replace(/\.npz$/i, '.nii'));
      } else {
        await this.viewer.show(bytes, name);
      }
    } catch (e) {
      throw new UserError(
        `cannot read "${name}" as an image: ${e instanceof Error ? e.message : String(e)}`,
        'check that the file is a complete NIfTI, NRRD, MHA or MedSAM2 .npz (re-export or re-download it)',
      );
    }
    this.showSliceBar();
    this.windowControl.apply();
  }

  private showInfo(): void {
    const u = this.upload;
    const rows: [string, string][] = [
      ['file', this.fileName],
      ['format', u?.format ?? '—'],
      ['dims', u ? u.dims.join(' × ') : '—'],
      ['spacing', u ? u.spacing.map((s) => s.toFixed(3)).join(' × ') + ' mm' : '—'],
      ['modality', u?.modality ?? '—'],
      ['size', u ? `${(u.bytes / 1048576).toFixed(2)} MB` : '—'],
      ['session', this.session?.id.slice(0, 8) ?? '—'],
      ['model', this.session?.model ?? '—'],
    ];
    $('info').replaceChildren(
      ...rows.flatMap(([k, v]) => {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        return [dt, dd];
      }),
    );
  }

  /** After a reload: the stored scan, the session's masks from the server. */
  private async restore(saved: NonNullable<ReturnType<typeof loadState>>): Promise<void> {
    await this.run('restoring', async () => {
      const bytes = await loadFile().catch(() => undefined);
      if (!bytes || !saved.upload) {
        saveState(undefined);
        return;
      }
      let session: SessionView;
      try {
        session = await this.api.session(saved.sessionId);
      } catch (e) {
        saveState(undefined);
        throw e;
      }
      // A server-drawn scan (DICOM, PNG, JPEG) was kept as the server's NIfTI.
      await this.display(bytes, LOCAL_SCAN.test(saved.fileName) ? saved.fileName : displayName(saved.fileName));
      offerSegExport(saved.upload.format === 'dicom-zip');
      if (saved.view) this.restoreView(saved.view);
      this.session = session;
      this.fileName = saved.fileName;
      this.upload = saved.upload;
      this.objects = saved.objects;
      this.activeObj = saved.activeObj;
      this.adoptServerObjects();
      for (const o of this.objects) this.viewer.setHidden(o.objId, o.hidden);
      await this.reloadMasks();
      this.showInfo();
      this.setTool('box');
      this.setStatus('session restored');
    });
  }

  /** The layout, window and crosshair as they were before a reload. */
  private restoreView(v: SavedView): void {
    const layout = $<HTMLSelectElement>('layout');
    layout.value = v.layout;
    if (layout.value !== v.layout) layout.value = 'multi';
    this.viewer.setLayout(layout.value as ViewLayout);
    this.windowControl.restore(v.window, v.custom);
    if (typeof v.opacity === 'number' && v.opacity >= 0 && v.opacity <= 1) {
      $<HTMLInputElement>('opacity').value = String(v.opacity);
      this.viewer.setOpacity(v.opacity);
    }
    const [x, y, z] = v.voxel;
    if (v.voxel.length === 3 && v.voxel.every((k) => Number.isFinite(k))) this.viewer.goToVoxel(x!, y!, z!);
    this.showSliceBar();
  }

  /** What a reload brings back of the view. */
  private viewState(): SavedView {
    const w = this.viewer.window;
    return {
      layout: this.viewer.layout,
      window: w.name,
      ...(this.windowControl.custom ? { custom: this.windowControl.custom } : {}),
      voxel: this.viewer.crosshairVoxel(),
      opacity: Number($<HTMLInputElement>('opacity').value),
    };
  }

  private persistTimer: ReturnType<typeof setTimeout> | undefined;

  /** Saves the state soon (the crosshair moves many times a second while scrolling). */
  private persistSoon(): void {
    if (this.persistTimer !== undefined) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      this.persist();
    }, 150);
  }

  /** Saves a pending state now: a reload or a closed tab within those 150 ms must not lose the last change. */
  private flushPersist(): void {
    if (this.persistTimer === undefined) return;
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    this.persist();
  }

  // ---------- prompts ----------

  private onPointerDown(e: PointerEvent): void {
    if (this.tool === 'navigate' && e.button === 0) this.navigatePress = { x: e.clientX, y: e.clientY };
    if (this.tool === 'navigate' || e.button !== 0 || !this.session) return;
    const hit = this.viewer.hit(e);
    if (!hit) return;
    if (this.tool === 'brush' || this.tool === 'eraser') {
      const axis = VIEW_AXIS[hit.view]!;
      const at = onSlice(hit, axis);
      const g = this.viewer.sliceGeometry(axis, at.slice);
      this.viewer.coverLabel(this.activeObj);
      this.brush.begin(
        this.tool === 'brush' ? 'paint' : 'erase',
        axis,
        at.slice,
        g.rows,
        g.cols,
        this.viewer.sliceMask(this.activeObj, at.slice, axis),
      );
      this.strokeView = hit.view;
      this.dragHold = this.viewer.hold3d();
      this.previewStroke(at.col, at.row);
      $('gl').setPointerCapture(e.pointerId);
      return;
    }
    // Any of the three views: the slice along that view's axis, in its own pixel columns/rows.
    const axis = VIEW_AXIS[hit.view]!;
    const at = onSlice(hit, axis);
    this.dragStart = { x: at.col, y: at.row, cx: e.clientX, cy: e.clientY, z: at.slice, axis, view: hit.view };
    this.dragHold = this.viewer.hold3d();
    // Keep receiving the drag when it leaves the canvas, so its end is judged (and refused) too.
    $('gl').setPointerCapture(e.pointerId);
  }

  /** The yellow box or line under the mouse while a box / RECIST prompt is dragged. */
  private onPointerMove(e: PointerEvent): void {
    if (this.tool === 'brush' || this.tool === 'eraser') this.showBrushCursor(e);
    if (this.brush.drawing) {
      const hit = this.viewer.hit(e);
      if (hit && hit.view === this.strokeView) {
        const at = onSlice(hit, VIEW_AXIS[hit.view]!);
        this.previewStroke(at.col, at.row);
      }
      return;
    }
    const s = this.dragStart;
    if (!s || (this.tool !== 'box' && this.tool !== 'recist')) return;
    const rect = $('drop').getBoundingClientRect();
    const [x0, y0, x1, y1] = [s.cx - rect.left, s.cy - rect.top, e.clientX - rect.left, e.clientY - rect.top];
    const el = $(this.tool === 'box' ? 'box-preview' : 'line-preview');
    const attrs: Record<string, number> =
      this.tool === 'box'
        ? { x: Math.min(x0, x1), y: Math.min(y0, y1), width: Math.abs(x1 - x0), height: Math.abs(y1 - y0) }
        : { x1: x0, y1: y0, x2: x1, y2: y1 };
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    el.setAttribute('visibility', 'visible');
  }

  private hidePreview(): void {
    for (const id of ['box-preview', 'line-preview']) $(id).setAttribute('visibility', 'hidden');
  }

  /** A circle of the brush's size under the mouse (its radius in screen pixels from the view's zoom). */
  private showBrushCursor(e: PointerEvent): void {
    const el = $('brush-cursor');
    const hit = this.viewer.hit(e);
    const scale = hit && this.viewer.pixelsPerVoxel(hit);
    if (!hit || !scale) {
      el.setAttribute('visibility', 'hidden');
      return;
    }
    const rect = $('drop').getBoundingClientRect();
    el.setAttribute('cx', String(e.clientX - rect.left));
    el.setAttribute('cy', String(e.clientY - rect.top));
    el.setAttribute('r', String(Math.max(2, (this.brush.radius + 0.5) * scale)));
    el.setAttribute('class', this.tool);
    el.setAttribute('visibility', 'visible');
  }

  /** The view the stroke in progress started on (it paints that plane only). */
  private strokeView = 0;

  /** Adds a stroke point and shows the slice as it will be stored, at once. */
  private previewStroke(col: number, row: number): void {
    const mask = this.brush.add(col, row);
    if (!mask) return;
    const t = this.brush.target!;
    this.viewer.setSliceMask(this.activeObj, t.slice, mask, t.axis);
    this.viewer.scheduleRefresh();
  }

  /** Sends the finished stroke as one literal edit; the server's mask replaces the preview. */
  private finishStroke(): void {
    const session = this.session;
    if (!session) {
      this.brush.end();
      return;
    }
    const objId = this.activeObj;
    const release3d = this.viewer.hold3d();
    const queued = this.brush.finish(async (done) => {
      try {
        const t0 = performance.now();
        const m = await this.api.edit(session.id, { objId, slice: done.slice, axis: done.axis, stroke: done.stroke });
        this.session = await this.api.session(session.id);
        await this.sendEarlyNames(session);
        // The stroke's slice, and whatever else it changed: an edit on another view than its
        // object's writes several of its slices, and erasing a bridge can drop a part in 3D.
        if (!(await this.syncStored(session.id))) await this.reloadMasks();
        this.setStatus(strokeStatus(`slice ${m.slice}`, done.stroke.mode, m.area ?? 0, performance.now() - t0));
        this.render();
      } catch (e) {
        // The preview showed something the server did not store: show what it has.
        this.fail(e);
        if (this.session) await this.reloadMasks().catch(() => undefined);
      } finally {
        release3d();
      }
    });
    if (!queued) release3d();
  }

  /** The 3D render's hold while a box, line, click or stroke is being dragged (see Viewer.hold3d). */
  private dragHold: (() => void) | undefined;

  private onPointerUp(e: PointerEvent): void {
    const press = this.navigatePress;
    this.navigatePress = undefined;
    if (press && this.tool === 'navigate' && Math.hypot(e.clientX - press.x, e.clientY - press.y) < 4) {
      // NiiVue's windowing drag ignores a click: the crosshair goes to the voxel clicked, as before.
      const hit = this.viewer.hit(e);
      if (hit) this.viewer.goToVoxel(hit.x, hit.y, hit.z);
    }
    const release = this.dragHold;
    this.dragHold = undefined;
    try {
      this.endDrag(e);
    } finally {
      release?.();
    }
  }

  private endDrag(e: PointerEvent): void {
    if (this.brush.drawing) {
      this.finishStroke();
      return;
    }
    const s = this.dragStart;
    this.dragStart = undefined;
    if (!s || !this.session) return;
    const hitEnd = this.viewer.hit(e);
    const end = hitEnd && hitEnd.view === s.view ? onSlice(hitEnd, s.axis) : undefined;
    const plane = ['axial', 'coronal', 'sagittal'][s.view];
    if (this.tool === 'box' || this.tool === 'recist') {
      const what = this.tool === 'box' ? 'box' : 'RECIST line';
      if (!end) {
        this.hidePreview();
        this.messages.error(
          new Error(`the ${what} ends outside the image`),
          this.tool === 'box'
            ? `drag from one corner of the object to the other inside the ${plane} slice`
            : `drag along the lesion's longest axis inside the ${plane} slice`,
        );
        return;
      }
      if (this.tool === 'recist') {
        const line = [s.x, s.y, end.col, end.row].map(Math.round) as [number, number, number, number];
        if (Math.hypot(line[2] - line[0], line[3] - line[1]) < 2) {
          this.hidePreview();
          this.messages.error(new Error('the RECIST line is too short'), "drag across the lesion's longest diameter");
          return;
        }
        void this.sendPrompt({ slice: s.z, axis: s.axis, recist: line, replace: true });
        return;
      }
      const b: [number, number, number, number] = [
        Math.min(s.x, end.col),
        Math.min(s.y, end.row),
        Math.max(s.x, end.col),
        Math.max(s.y, end.row),
      ].map(Math.round) as [number, number, number, number];
      if (b[2] - b[0] < 1 || b[3] - b[1] < 1) {
        this.hidePreview();
        this.messages.error(new Error('the box is too small'), 'drag a box around the whole object');
        return;
      }
      void this.sendPrompt({ slice: s.z, axis: s.axis, box: b, replace: true });
    } else {
      const label = this.tool === 'positive' ? 1 : 0;
      const corrected = this.isMaskedNonKey(s.z, s.axis);
      void this.sendPrompt({
        slice: s.z,
        axis: s.axis,
        points: [{ x: Math.round(s.x), y: Math.round(s.y), label }],
        ...(corrected ? { correction: true } : {}),
      });
    }
  }

  /** A click on a slice propagation reached (not one of the object's prompted slices) is a correction. */
  private isMaskedNonKey(z: number, axis: number): boolean {
    const o = this.session?.objects.find((x) => x.objId === this.activeObj);
    if (!o) return false;
    const ownAxis = o.axis ?? this.session!.axis;
    if (axis === this.session!.axis && ownAxis === axis) return o.slices.includes(z) && !o.keys.includes(z);
    return this.viewer.sliceMask(o.objId, z, axis) !== undefined && !(ownAxis === axis && o.keys.includes(z));
  }

  async sendPrompt(p: {
    slice: number;
    axis?: number;
    box?: [number, number, number, number];
    recist?: [number, number, number, number];
    points?: { x: number; y: number; label: 0 | 1 }[];
    replace?: boolean;
    correction?: boolean;
  }): Promise<void> {
    const session = this.session;
    if (!session) return;
    // The mask goes onto the 2D planes first; the 3D render follows once it is there.
    const release3d = this.viewer.hold3d();
    try {
      this.onInteraction(p.box ? 'box' : p.recist ? 'recist' : p.points?.[0]?.label === 1 ? 'positive' : 'negative', p.slice);
      await this.run('prompting', async () => {
        this.setStatus('segmenting the slice…');
        const t0 = performance.now();
        const m = await this.api.prompt(session.id, { objId: this.activeObj, ...p });
        const ms = Math.round(performance.now() - t0);
        this.applyMask(m);
        this.viewer.refreshOverlayNow();
        const [view] = await Promise.all([this.api.session(session.id), this.showStored(session.id, m)]);
        this.session = view;
        await this.sendEarlyNames(session);
        // Which plane: "slice 100" alone reads as an axial slice on a coronal prompt.
        const plane = (m.axis ?? view.axis) === view.axis ? '' : `${['sagittal', 'coronal', 'axial'][m.axis!]} `;
        this.setStatus(`${plane}slice ${m.slice}: ${m.area ?? 0} px in ${ms} ms`);
      });
    } finally {
      this.hidePreview();
      release3d();
    }
    this.render();
  }

  /**
   * The label map keeps each object's largest 3D component, so a speck of a prompt's mask apart
   * from the rest is not exported, and a prompt that joins or splits the object changes slices
   * other than its own: the overlay is made equal to the stored label map (syncStored) and shows
   * what Export writes.
   */
  private async showStored(sessionId: string, m: SliceMask): Promise<void> {
    const axis = this.session?.axis ?? 2;
    const own = m.axis ?? axis;
    if (!(await this.syncStored(sessionId))) await this.reloadSlices(sessionId, this.session?.objects ?? []);
    if (own !== axis || !((m.area ?? 0) > 0)) return;
    const mine = this.viewer.sliceMask(m.objId, m.slice, axis);
    const kept = mine ? mine.reduce((a, v) => a + v, 0) : 0;
    if (kept < (m.area ?? 0) / 2)
      this.messages.info(
        `the label map keeps only ${kept} of this prompt's ${m.area} px: each object is its largest connected part in 3D — for a separate region add an object (A)`,
      );
  }

  /**
   * Makes the overlay equal the stored label map, every slice (one request: see storedLabels.ts),
   * and redraws it where it differed. Returns the z-slices that changed, or undefined when the
   * label map did not read as this grid's NIfTI (the caller then re-reads slice by slice).
   */
  private async syncStored(sessionId: string): Promise<number[] | undefined> {
    const t0 = performance.now();
    const blob = await this.api.labelMap(sessionId, 'nii.gz');
    const stored = niftiLabels(new Uint8Array(await blob.arrayBuffer()), this.viewer.dims);
    if (!stored) return undefined;
    let top = 0;
    for (let i = 0; i < stored.length; i++) if (stored[i]! > top) top = stored[i]!;
    this.viewer.coverLabel(top);
    const changed = this.viewer.replaceLabels(stored);
    this.lastSync = changed;
    this.lastSyncMs = performance.now() - t0;
    if (changed.length) this.viewer.refreshOverlayNow(true);
    return changed;
  }

  /** The z-slices the last syncStored changed, and what reading the label map took (tests, bench). */
  lastSync: number[] = [];
  lastSyncMs = 0;

  private applyMask(m: SliceMask): void {
    this.viewer.coverLabel(m.objId);
    const mask = decodeRle(m.mask);
    this.viewer.setSliceMask(m.objId, m.slice, mask, m.axis ?? this.session?.axis ?? 2);
    const set = this.shown.get(m.objId) ?? new Set<number>();
    set.add(m.slice);
    this.shown.set(m.objId, set);
  }

  /** Re-reads the label map the server has (after undo, remove or a reload). */
  private async reloadMasks(): Promise<void> {
    const session = this.session!;
    this.adoptServerObjects();
    this.shown.clear();
    if (!(await this.syncStored(session.id))) await this.reloadSlices(session.id, session.objects);
    this.render();
  }

  /** The label map slice by slice (where syncStored cannot read it whole): the slices the objects occupy. */
  private async reloadSlices(sessionId: string, objects: readonly { slices: number[] }[]): Promise<void> {
    this.viewer.clearAll();
    const slices = new Set<number>();
    for (const o of objects) for (const s of o.slices) slices.add(s);
    for (const z of [...slices].sort((a, b) => a - b)) {
      const r = await this.api.sliceMasks(sessionId, z);
      for (const o of r.objects) this.applyMask({ objId: o.objId, slice: z, mask: o.mask });
    }
    this.viewer.refreshOverlayNow();
  }

  // ---------- propagation, undo, export ----------

  async propagate(): Promise<void> {
    const session = this.session;
    if (!session || this.propagating) return;
    if (session.objects.length === 0) {
      this.messages.error(new Error('nothing to propagate yet'), 'draw a box on the object first');
      return;
    }
    this.propagating = true;
    this.cancelAsked = false;
    this.onInteraction('propagate', null);
    this.render();
    const bar = $<HTMLProgressElement>('progress');
    bar.value = 0;
    const t0 = performance.now();
    const draws = { ...this.viewer.drawStats };
    const tm: PropagationTimings = {
      shownMs: 0,
      lastMaskMs: 0,
      masks: 0,
      applyMs: 0,
      refreshes: 0,
      refreshMs: 0,
      finalDrawMs: 0,
      render3dMs: 0,
      sessionMs: 0,
    };
    const release3d = this.viewer.hold3d();
    try {
      this.setStatus('propagating…');
      const out = await this.api.propagate(
        session.id,
        {},
        {
          onProgress: (done, total) => {
            bar.value = total > 0 ? done / total : 0;
            // After a cancel the progress still streaming must not hide that it was asked for.
            this.setStatus(`${this.cancelAsked ? 'cancelling…' : 'propagating:'} ${done} / ${total}`);
          },
          onMask: (m) => {
            const ta = performance.now();
            this.applyMask(m);
            tm.masks++;
            tm.lastMaskMs = ta - t0;
            tm.applyMs += performance.now() - ta;
            // Masks show as they stream in, redraws spaced by their cost: the GPU (often a CPU
            // here) is left to the model between.
            this.viewer.scheduleRefresh(PROPAGATION_REFRESH_MS, PROPAGATION_DRAW_SHARE);
          },
        },
      );
      if (out.kind === 'done') tm.serverSeconds = (out.summary as { seconds?: number } | undefined)?.seconds;
      // Said at once: the redraws, the 3D render and the masks' reload below take seconds on a CPU-rendered WebGL.
      else this.setStatus('cancelled: restoring the masks…');
      // The last slices onto the 2D planes first: that is "the last slice shown". Only then the 3D
      // render (held while streaming; on a CPU-rendered WebGL it costs seconds) and the session's
      // new state, which nothing on screen waits for.
      let t = performance.now();
      this.viewer.refreshOverlayNow(true);
      tm.finalDrawMs = performance.now() - t;
      tm.shownMs = performance.now() - t0;
      if (out.kind === 'done') bar.value = 1;
      t = performance.now();
      release3d();
      this.viewer.waitDrawn();
      tm.render3dMs = performance.now() - t;
      t = performance.now();
      this.session = await this.api.session(session.id);
      tm.sessionMs = performance.now() - t;
      const secs = (tm.shownMs / 1000).toFixed(1);
      if (out.kind === 'cancelled') {
        await this.reloadMasks();
        this.setStatus(`cancelled after ${secs} s (nothing changed)`);
        this.messages.info(out.message);
      } else {
        tm.refreshes = this.viewer.drawStats.refreshes - draws.refreshes;
        tm.sliceUploads = this.viewer.drawStats.sliceUploads - draws.sliceUploads;
        tm.fullUploads = this.viewer.drawStats.fullUploads - draws.fullUploads;
        tm.refreshMs = this.viewer.drawStats.refreshMs - draws.refreshMs;
        // The streamed masks are the model's; the label map keeps each object's largest 3D part.
        if (!(await this.syncStored(session.id))) await this.reloadMasks();
        this.lastPropagation = tm;
        document.body.dataset.propagatedMs = String(Math.round(tm.shownMs));
        this.setStatus(`propagated in ${secs} s (3D view ${(tm.render3dMs / 1000).toFixed(1)} s after)`);
      }
    } catch (e) {
      this.fail(e);
      this.setStatus('propagation failed');
    } finally {
      release3d();
      this.propagating = false;
      this.render();
    }
  }

  /** Cancel was pressed during the propagation in progress. */
  private cancelAsked = false;

  /** A DICOM folder being read, packed or uploaded (Cancel aborts it). */
  private opening: AbortController | undefined;

  private endOpening(abort: AbortController): void {
    if (this.opening === abort) this.opening = undefined;
    this.render();
  }

  /** "reading headers 120 / 2000", "packing …", "uploading 40 % (126 / 314 MB)", on the status line and the progress bar. */
  private showWork(what: string, done: number, total: number): void {
    $<HTMLProgressElement>('progress').value = total > 0 ? done / total : 0;
    const mb = (n: number) => (n / 1048576).toFixed(0);
    this.setStatus(
      what === 'uploading'
        ? `uploading ${total > 0 ? Math.floor((100 * done) / total) : 0} % (${mb(done)} / ${mb(total)} MB)`
        : `${what} ${done} / ${total}`,
    );
  }

  async cancel(): Promise<void> {
    if (this.opening) {
      this.opening.abort();
      this.setStatus('cancelling…');
      return;
    }
    if (!this.session || !this.propagating) return;
    // Shown before the request: the answer can wait behind the model's work on a busy server.
    this.cancelAsked = true;
    this.setStatus('cancelling…');
    try {
      await this.api.cancel(this.session.id);
    } catch (e) {
      this.messages.error(e);
    }
  }

  undo(): Promise<void> {
    return this.history.undo();
  }

  redo(): Promise<void> {
    return this.history.redo();
  }

  /** Brush / eraser radius in slice pixels. */
  private growBrush(by: number): void {
    const r = this.brush.grow(by);
    $('brush-radius').textContent = String(r);
    this.setStatus(`brush radius ${r} px`);
  }

  /** An error as a visible message; a refused token also offers the way to enter a new one. */
  private fail(e: unknown): void {
    this.messages.error(e);
    if (e instanceof ApiError && e.status === 401) this.messages.action('Enter a token…', () => this.openTokenForm());
  }

  private openTokenForm(): void {
    const form = $('token-form');
    const input = $<HTMLInputElement>('token-input');
    input.value = '';
    form.hidden = false;
    input.focus();
  }

  private saveToken(value: string): void {
    const t = value.trim();
    if (t) localStorage.setItem('medsam2.token', t);
    else localStorage.removeItem('medsam2.token');
    $('token-form').hidden = true;
    this.messages.info(t ? 'token saved in this browser: retry what you were doing' : 'token cleared');
  }

  async exportLabels(): Promise<void> {
    const session = this.session;
    if (!session) {
      this.messages.error(new Error('nothing to export'), 'open a scan and segment something first');
      return;
    }
    const format = $<HTMLSelectElement>('export-format').value as 'nii.gz' | 'nrrd' | 'npz' | 'seg.dcm';
    await this.run('exporting', async () => {
      const blob = await this.api.labelMap(session.id, format);
      const stem = this.fileName.replace(/\.(nii\.gz|nii|nrrd|nhdr|mha|npz|png|jpe?g)$/i, '') || 'scan';
      downloadBlob(blob, `${stem}_seg.${format}`);
      this.setStatus(`exported ${stem}_seg.${format}`);
    });
  }

  async screenshot(): Promise<void> {
    try {
      downloadBlob(await this.viewer.screenshotPng(), `${this.fileName || 'view'}.png`);
    } catch (e) {
      this.messages.error(e);
    }
  }

  // ---------- objects ----------

  addObject(): void {
    if (!this.session) return;
    const id = Math.max(0, ...this.objects.map((o) => o.objId)) + 1;
    if (id > 255) {
      this.messages.error(new Error('at most 255 objects per session'), 'delete an object first');
      return;
    }
    this.objects.push({ objId: id, name: `object ${id}`, hidden: false });
    this.viewer.coverLabel(id);
    this.activeObj = id;
    this.persist();
    this.render();
  }

  private async removeObject(objId: number): Promise<void> {
    const session = this.session;
    if (!session) return;
    await this.run('deleting', async () => {
      if (session.objects.some((o) => o.objId === objId)) this.session = await this.api.removeObject(session.id, objId);
      this.objects = this.objects.filter((o) => o.objId !== objId);
      if (this.objects.length === 0) this.objects.push({ objId: 1, name: 'object 1', hidden: false });
      if (!this.objects.some((o) => o.objId === this.activeObj)) this.activeObj = this.objects[0]!.objId;
      this.viewer.clearObject(objId);
      this.viewer.refreshOverlayNow();
      this.persist();
    });
    this.render();
  }

  /**
   * Renames an object: on the server when it has the object (a reload, another browser and the DICOM
   * SEG / RTSTRUCT export see the name; a name it refuses keeps the old one and says why), else here
   * until its first prompt or stroke sends it (sendEarlyNames).
   */
  private async renameObject(objId: number, name: string): Promise<void> {
    const session = this.session;
    const o = this.objects.find((x) => x.objId === objId);
    if (!o) return;
    if (session?.objects.some((x) => x.objId === objId))
      await this.run('renaming', async () => {
        this.session = await this.api.renameObject(session.id, objId, name);
        o.name = this.session.objects.find((x) => x.objId === objId)?.name ?? name;
        this.setStatus(`renamed object ${objId} to ${o.name}`);
      });
    else o.name = name;
    this.persist();
    this.render();
  }

  /**
   * An object named before the server had it (no prompt yet) gets its name on the server once its
   * first prompt or stroke made it one of the session's objects. `before`: the view before that.
   */
  private async sendEarlyNames(before: SessionView): Promise<void> {
    for (const o of this.objects) {
      if (o.name === `object ${o.objId}` || before.objects.some((x) => x.objId === o.objId)) continue;
      const server = this.session?.objects.find((x) => x.objId === o.objId);
      if (!server || server.name !== undefined) continue;
      this.session = await this.api.renameObject(before.id, o.objId, o.name).catch((e: unknown) => {
        this.messages.error(e);
        return this.session!;
      });
    }
  }

  /**
   * The server's objects in the list (one this browser did not list yet, e.g. prompted from another
   * browser) and their names: the server's name wins over this browser's saved one. Hidden flags have
   * no home on the server and stay this browser's.
   */
  private adoptServerObjects(): void {
    for (const s of this.session?.objects ?? []) {
      const mine = this.objects.find((x) => x.objId === s.objId);
      if (!mine) this.objects.push({ objId: s.objId, name: s.name ?? `object ${s.objId}`, hidden: false });
      else if (s.name) mine.name = s.name;
    }
    this.persist();
  }

  // ---------- plumbing ----------

  private run(what: string, work: () => Promise<void>): Promise<void> {
    return this.guard.run(what, work);
  }

  private persist(): void {
    if (this.session && this.upload)
      saveState({
        sessionId: this.session.id,
        fileName: this.fileName,
        upload: this.upload,
        objects: this.objects,
        activeObj: this.activeObj,
        view: this.viewState(),
      });
  }

  private setStatus(s: string): void {
    $('status').textContent = s;
  }

  setTool(t: Tool): void {
    this.tool = t;
    if (t !== 'brush' && t !== 'eraser') $('brush-cursor').setAttribute('visibility', 'hidden');
    this.viewer.setPromptMode(t !== 'navigate');
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-tool]')) b.classList.toggle('active', b.dataset.tool === t);
  }

  goToSlice(z: number): void {
    this.viewer.goToSlice(z);
  }

  /**
   * The voxel axis the slice bar and ↑/↓ step: the shown plane's in a one-plane layout (coronal: y,
   * sagittal: x), as a Slicer or OHIF viewport scrolls its own plane; axial z otherwise.
   */
  private sliceAxis(): number {
    const layout = $<HTMLSelectElement>('layout').value as ViewLayout;
    return layout === 'coronal' ? 1 : layout === 'sagittal' ? 0 : 2;
  }

  /** Steps the slice bar's plane by `by`. */
  private stepSlice(by: number): void {
    const axis = this.sliceAxis();
    this.viewer.goToIndex(axis, this.viewer.crosshairIndex(axis) + by);
  }

  /** Slider range, position and label for the slice bar's plane. */
  private showSliceBar(): void {
    const axis = this.sliceAxis();
    const slider = $<HTMLInputElement>('slice');
    const k = this.viewer.crosshairIndex(axis);
    slider.max = String(Math.max(0, this.viewer.dims[axis]! - 1));
    slider.value = String(k);
    // Indices count from 0, as everywhere in the app: "17 / 24" of 25 slices read as one short.
    const plane = axis === 1 ? 'coronal slice' : axis === 0 ? 'sagittal slice' : 'slice';
    $('slice-label').textContent = `${plane} ${k} (0–${Math.max(0, this.viewer.dims[axis]! - 1)})`;
  }

  private render(): void {
    const has = !!this.session;
    $<HTMLButtonElement>('propagate').disabled = !has || this.propagating;
    $<HTMLButtonElement>('cancel').disabled = !this.propagating && !this.opening;
    History.enable($<HTMLButtonElement>('undo'), $<HTMLButtonElement>('redo'), this.session, this.propagating);
    $<HTMLButtonElement>('export').disabled = !has || this.propagating;
    renderObjects(
      $('objects'),
      this.objects.map((o) => ({ ...o, ...this.viewer.objectStats(o.objId) })),
      this.activeObj,
      {
        select: (id) => {
          this.activeObj = id;
          this.persist();
          this.render();
        },
        toggle: (id) => {
          const o = this.objects.find((x) => x.objId === id)!;
          o.hidden = !o.hidden;
          this.viewer.setHidden(id, o.hidden);
          this.persist();
          this.render();
        },
        remove: (id) => void this.removeObject(id),
        rename: (id, name) => void this.renameObject(id, name),
      },
      this.viewer.dims[2] === 1,
    );
  }

  private wire(): void {
    window.addEventListener('pagehide', () => this.flushPersist());
    const canvas = $('gl');
    canvas.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    canvas.addEventListener('pointermove', (e) => this.onPointerMove(e));
    canvas.addEventListener('pointerup', (e) => this.onPointerUp(e));
    canvas.addEventListener('pointercancel', () => {
      this.dragStart = undefined;
      this.brush.end();
      this.hidePreview();
      const release = this.dragHold;
      this.dragHold = undefined;
      release?.();
    });
    for (const id of ['file', 'folder'])
      $<HTMLInputElement>(id).addEventListener('change', (e) => {
        const input = e.target as HTMLInputElement;
        const files = [...(input.files ?? [])];
        input.value = '';
        if (files.length) void this.openFiles(files, { folder: id === 'folder' });
      });
    const drop = $('drop');
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('dragging');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('dragging');
      if (e.dataTransfer)
        void droppedFiles(e.dataTransfer).then(
          ({ files, folder }) => this.openFiles(files, { folder }),
          (err) => this.fail(err),
        );
    });
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-tool]'))
      b.addEventListener('click', () => this.setTool(b.dataset.tool as Tool));
    $('propagate').addEventListener('click', () => void this.propagate());
    $('cancel').addEventListener('click', () => void this.cancel());
    $('undo').addEventListener('click', () => void this.undo());
    $('redo').addEventListener('click', () => void this.redo());
    $('brush-smaller').addEventListener('click', () => this.growBrush(-1));
    $('brush-larger').addEventListener('click', () => this.growBrush(1));
    $('export').addEventListener('click', () => void this.exportLabels());
    $('screenshot').addEventListener('click', () => void this.screenshot());
    $('add-object').addEventListener('click', () => this.addObject());
    $('token').addEventListener('click', () => this.openTokenForm());
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.saveToken($<HTMLInputElement>('token-input').value);
    });
    $('token-cancel').addEventListener('click', () => {
      $('token-form').hidden = true;
    });
    $<HTMLSelectElement>('layout').addEventListener('change', (e) => {
      this.viewer.setLayout((e.target as HTMLSelectElement).value as ViewLayout);
      this.showSliceBar();
      this.persistSoon();
    });
    // A list picked with the mouse hands the keys back to the views: ↑/↓ then scroll slices as in
    // Slicer (they stepped the list: "View: axial", then ↑, switched to "3 planes + 3D"). A list
    // reached with Tab keeps its arrow keys.
    for (const sel of document.querySelectorAll<HTMLSelectElement>('header.toolbar select')) {
      let byPointer = false;
      sel.addEventListener('pointerdown', () => {
        byPointer = true;
      });
      sel.addEventListener('keydown', () => {
        byPointer = false;
      });
      sel.addEventListener('change', () => {
        if (byPointer) sel.blur();
        byPointer = false;
      });
    }
    $<HTMLInputElement>('opacity').addEventListener('input', (e) => {
      this.viewer.setOpacity(Number((e.target as HTMLInputElement).value));
      this.persistSoon();
    });
    const slider = $<HTMLInputElement>('slice');
    slider.addEventListener('input', () => this.viewer.goToIndex(this.sliceAxis(), Number(slider.value)));
    $('slice-down').addEventListener('click', () => this.stepSlice(-1));
    $('slice-up').addEventListener('click', () => this.stepSlice(1));
    // Called with the axial z (the interaction log's scroll position); the bar shows its own plane.
    this.viewer.onSliceChange = () => {
      this.showSliceBar();
      this.persistSoon();
    };
    const help = $('help');
    $('help-button').addEventListener('click', () => {
      help.hidden = false;
    });
    $('help-close').addEventListener('click', () => {
      help.hidden = true;
    });
    const shortcuts: Shortcut[] = [
      { keys: ['v'], label: 'Navigate (drag = window/level, wheel = scroll)', run: () => this.setTool('navigate') },
      { keys: ['x'], label: 'Box prompt tool', run: () => this.setTool('box') },
      { keys: ['p'], label: 'Positive click tool', run: () => this.setTool('positive') },
      { keys: ['n'], label: 'Negative click tool', run: () => this.setTool('negative') },
      { keys: ['r'], label: 'RECIST line tool (long axis → box)', run: () => this.setTool('recist') },
      ...brushShortcuts('slice', { setTool: (t) => this.setTool(t), grow: (by) => this.growBrush(by) }),
      { keys: ['Enter'], label: 'Propagate', run: () => void this.propagate() },
      {
        keys: ['Escape'],
        label: 'Cancel propagation or opening a folder / close help',
        run: () => {
          if (!help.hidden) help.hidden = true;
          else void this.cancel();
        },
      },
      ...this.history.shortcuts(),
      { keys: ['a'], label: 'Add an object', run: () => this.addObject() },
      { keys: ['ArrowUp', 'PageUp'], label: 'Next slice (of the plane shown)', run: () => this.stepSlice(1) },
      { keys: ['ArrowDown', 'PageDown'], label: 'Previous slice (of the plane shown)', run: () => this.stepSlice(-1) },
      { keys: ['ctrl+s'], label: 'Export the label map', run: () => void this.exportLabels() },
      { keys: ['s'], label: 'Screenshot (PNG)', run: () => void this.screenshot() },
      { keys: ['o'], label: 'Open a scan', run: () => $('file').click() },
      {
        keys: ['?'],
        label: 'This help',
        run: () => {
          help.hidden = !help.hidden;
        },
      },
    ];
    // Video mode has its own table (web/src/video/videoMode.ts); these keys are the volume view's.
    installShortcuts(shortcuts, $<HTMLTableElement>('help-table'), { active: () => !this.video.active });
  }
}

/** What NiiVue is told a server-drawn scan is called (the bytes are the server's .nii.gz). */
function displayName(label: string): string {
  return `${label.replace(/\.(png|jpe?g)$/i, '')}.nii.gz`;
}

/** DICOM SEG is offered in Export only for a DICOM-sourced scan (the server refuses it for others). */
function offerSegExport(on: boolean): void {
  const select = $<HTMLSelectElement>('export-format');
  const option = select.querySelector<HTMLOptionElement>('option[value="seg.dcm"]');
  if (on && !option) select.append(new Option('DICOM SEG', 'seg.dcm'));
  if (!on && option) {
    if (select.value === 'seg.dcm') select.value = 'nii.gz';
    option.remove();
  }
}
