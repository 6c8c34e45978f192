/**
 * Video mode: a video (mp4, mov, avi, mkv, webm), a zip of PNG/JPEG frames or a folder of them is
 * uploaded to `medsam2 serve` and shown as one frame on a 2D canvas with a timeline (scrubber,
 * frame number, play/step keys) instead of NiiVue's three planes. Box and ± clicks prompt the
 * active object on the shown frame; the brush and eraser edit its mask there literally (the same
 * server edits as volume mode); Propagate streams each frame's mask as the server decides it;
 * undo / redo step through all of it; Export downloads masks.npz, a zip of masks/<frame>.png or the
 * overlay mp4 (the files of `medsam2 video -o`). Frames are drawn from the server's JPEGs of the
 * decoded video (so every container the server's ffmpeg reads shows the same pixels the model saw,
 * in every browser). The busy guard, brush, undo/redo and key table are volume mode's modules.
 */
import { zipSync } from 'fflate';
import type { Api, SessionView, SliceMask } from '../api.js';
import { BusyGuard } from '../busyGuard.js';
import { cssColour, objectColour } from '../colours.js';
import { History } from '../history.js';
import { UserError, type Messages } from '../messages.js';
import { decodeRle } from '../rle.js';
import { type SavedObject, saveState } from '../savedState.js';
import { installShortcuts, type Shortcut } from '../shortcuts.js';
import { BrushTool, brushShortcuts, strokeStatus } from '../tools/brush.js';
import { readSegs } from './segsNpz.js';
import { drawBoxes, VideoBoxes } from './videoBoxes.js';
import { drawClicks, VideoClicks } from './videoClicks.js';
import { VideoObjectPanel } from './videoObjectPanel.js';
import { fetchExport, fetchFrame, fetchPrompts, fetchUpload, type VideoExport, type VideoUploadView } from './videoApi.js';
import './video.css';

/** Files video mode opens (a .zip is taken for a zip of frames; the server says if it is not). */
export const VIDEO_FILE = /\.(mp4|m4v|mov|avi|mkv|webm|zip)$/i;
const FRAME_FILE = /\.(png|jpe?g)$/i;
/** localStorage key of the open video session (a reload restores it: frames and masks come from the server). */
const SAVED = 'medsam2.video';
/** Mask labels are 8-bit (masks.npz `segs` is uint8, label 0 is background). */
const MAX_OBJECTS = 255;

type VideoTool = 'box' | 'positive' | 'negative' | 'brush' | 'eraser';

const h = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ''): HTMLElementTagNameMap[K] => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text) el.textContent = text;
  return el;
};

export class VideoMode {
  private readonly root: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly track: HTMLCanvasElement;
  private readonly slider: HTMLInputElement;
  private readonly label: HTMLElement;
  private readonly preview: HTMLElement;
  private readonly cursor: HTMLElement;
  private readonly objectSelect: HTMLSelectElement;
  private upload?: VideoUploadView;
  session?: SessionView;
  private fileName = '';
  frame = 0;
  private tool: VideoTool = 'box';
  private activeObj = 1;
  private objectIds = [1];
  /**
   * Names and hidden flags the annotator gave, saved with the session entry. The server keeps the
   * names of the objects it has (PATCH …/objects/{objId}: its name wins on a reload); an object not
   * prompted yet keeps its name here until its first prompt sends it.
   */
  private readonly objectMeta = new Map<number, SavedObject>();
  /** The ± clicks in effect, drawn on their frame for the object being edited (the server's log has them). */
  readonly clicks = new VideoClicks();
  /** The box prompts in effect, outlined on their frame for every shown object (the server's log has them). */
  readonly boxes = new VideoBoxes();
  private readonly panel: VideoObjectPanel;
  /** masks.get(objId).get(frame): binary rows × cols. */
  readonly masks = new Map<number, Map<number, Uint8Array>>();
  private readonly keys = new Map<number, Set<number>>();
  private readonly frames = new Map<number, Promise<ImageBitmap>>();
  private propagating = false;
  readonly brush = new BrushTool();
  /** The stroke in progress as it will be stored (drawn over the object's mask on its frame). */
  private strokePreview?: { objId: number; frame: number; mask: Uint8Array };
  /** The frame picture drawn last (redrawn at once under a stroke preview). */
  private shownImage?: ImageBitmap;
  private previewFrame?: number;
  private readonly guard: BusyGuard;
  readonly history: History;
  private playing?: number;
  private dragStart?: { x: number; y: number; cx: number; cy: number };
  private drawSeq = 0;

  constructor(
    private readonly api: Api,
    private readonly messages: Messages,
    /** A file video mode does not open (a volume): handed back to the app. */
    private readonly openOther: (f: File) => void,
  ) {
    this.guard = new BusyGuard({
      messages,
      fail: (e) => messages.error(e),
      setStatus: (s) => this.setStatus(s),
      settled: () => this.buttons(),
    });
    this.history = new History({
      api,
      messages,
      guard: this.guard,
      session: () => this.session,
      blocked: () => this.propagating,
      pending: () => this.brush.settled(),
      reload: async (s) => {
        this.session = s;
        await this.reloadMasks();
        this.redraw();
      },
      setStatus: (s) => this.setStatus(s),
    });
    this.root = h('section', { id: 'video-view', hidden: '' });
    const bar = h('div', { class: 'video-toolbar' });
    const tools = h('span', { class: 'group', role: 'radiogroup', 'aria-label': 'video tool' });
    for (const [t, text, title] of [
      ['box', 'Box', 'Box prompt on this frame (X)'],
      ['positive', '+ Click', 'Positive click (P)'],
      ['negative', '− Click', 'Negative click (N)'],
      ['brush', 'Brush', 'Brush: paint the object on this frame by hand (B)'],
      ['eraser', 'Eraser', 'Eraser: remove from the object on this frame by hand (E)'],
    ] as const) {
      const b = h('button', { 'data-vtool': t, title }, text);
      b.addEventListener('click', () => this.setTool(t));
      tools.append(b);
    }
    this.objectSelect = h('select', { id: 'video-object', 'aria-label': 'object' });
    this.objectSelect.addEventListener('change', () => this.selectObject(Number(this.objectSelect.value)));
    this.panel = new VideoObjectPanel(
      {
        select: (id) => this.selectObject(id),
        toggle: (id) => {
          const o = this.meta(id);
          this.objectMeta.set(id, { ...o, hidden: !o.hidden });
          this.afterObjectChange();
        },
        remove: (id) => void this.removeObject(id),
        rename: (id, name) => void this.renameObject(id, name),
      },
      () => this.addObject(),
    );
    const add = h('button', { id: 'video-add-object', title: 'New object (A)' }, '+ object');
    add.addEventListener('click', () => this.addObject());
    const propagate = h('button', { id: 'video-propagate', title: 'Propagate through every frame (Enter)' }, 'Propagate');
    propagate.addEventListener('click', () => void this.propagate());
    const cancel = h('button', { id: 'video-cancel', title: 'Cancel the propagation (Esc)', disabled: '' }, 'Cancel');
    cancel.addEventListener('click', () => void this.cancel());
    const radius = h('span', { class: 'group', title: 'Brush radius in pixels ([ / ])' });
    const smaller = h('button', { id: 'video-brush-smaller', 'aria-label': 'smaller brush' }, '[');
    smaller.addEventListener('click', () => this.growBrush(-1));
    const larger = h('button', { id: 'video-brush-larger', 'aria-label': 'larger brush' }, ']');
    larger.addEventListener('click', () => this.growBrush(1));
    radius.append(smaller, h('span', { id: 'video-brush-radius' }, String(this.brush.radius)), larger);
    const undo = h('button', { id: 'video-undo', title: 'Undo (Ctrl+Z)' }, 'Undo');
    undo.addEventListener('click', () => void this.undo());
    const redo = h('button', { id: 'video-redo', title: 'Redo what was undone (Ctrl+Shift+Z / Ctrl+Y)', disabled: '' }, 'Redo');
    redo.addEventListener('click', () => void this.redo());
    const format = h('select', { id: 'video-export-format', 'aria-label': 'video export' });
    for (const [v, t] of [
      ['masks.npz', 'masks.npz'],
      ['masks.zip', 'PNG masks (zip)'],
      ['overlay.mp4', 'overlay mp4'],
    ])
      format.append(h('option', { value: v }, t));
    const exp = h('button', { id: 'video-export', title: 'Download (Ctrl+S)' }, 'Export');
    exp.addEventListener('click', () => void this.exportFile(format.value as VideoExport));
    bar.append(tools, radius, this.objectSelect, add, propagate, cancel, undo, redo, format, exp);

    const wrap = h('div', { class: 'video-canvas-wrap' });
    this.canvas = h('canvas', { id: 'video-canvas' });
    this.preview = h('div', { id: 'video-box-preview', hidden: '' });
    this.cursor = h('div', { id: 'video-brush-cursor', hidden: '' });
    wrap.append(this.canvas, this.preview, this.cursor);
    this.canvas.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    this.canvas.addEventListener('pointermove', (e) => this.onPointerMove(e));
    this.canvas.addEventListener('pointerup', (e) => this.onPointerUp(e));
    this.canvas.addEventListener('pointerleave', () => {
      this.cursor.hidden = true;
    });
    wrap.addEventListener('dragover', (e) => e.preventDefault());
    wrap.addEventListener('drop', (e) => {
      e.preventDefault();
      // The app decides what a drop is (a DICOM zip or folder opens as a volume: web/src/openScan.ts).
      const f = e.dataTransfer?.files[0];
      if (f) void this.openOther(f);
    });

    const timeline = h('div', { class: 'video-timeline' });
    const play = h('button', { id: 'video-play', title: 'Play / pause (Space)' }, '▶ Play');
    play.addEventListener('click', () => this.togglePlay());
    const back = h('button', { id: 'video-prev', title: 'Previous frame (←)' }, '◀');
    back.addEventListener('click', () => void this.show(this.frame - 1));
    const fwd = h('button', { id: 'video-next', title: 'Next frame (→)' }, '▶');
    fwd.addEventListener('click', () => void this.show(this.frame + 1));
    const scrub = h('div', { class: 'video-scrub' });
    this.slider = h('input', { id: 'video-frame', type: 'range', min: '0', max: '0', value: '0', 'aria-label': 'frame' });
    this.slider.addEventListener('input', () => void this.show(Number(this.slider.value)));
    this.track = h('canvas', { id: 'video-track', height: '6' });
    scrub.append(this.slider, this.track);
    this.label = h('span', { id: 'video-frame-label' }, 'frame –');
    timeline.append(play, back, scrub, fwd, this.label);

    this.root.append(bar, wrap, timeline);
    document.querySelector('main')!.append(this.root);

    // A folder of frames: the browser zips it (stored, the pictures are compressed already).
    const folder = h('input', { id: 'video-folder', type: 'file', hidden: '' }) as HTMLInputElement;
    folder.setAttribute('webkitdirectory', '');
    folder.addEventListener('change', () => {
      const files = [...(folder.files ?? [])];
      folder.value = '';
      if (files.length) void this.openFolder(files);
    });
    const folderButton = h('label', { class: 'button', title: 'Open a folder of PNG/JPEG video frames' }, 'Frames folder…');
    folderButton.append(folder);
    document.querySelector('.toolbar label.button')?.after(folderButton);

    this.installKeys();
    window.addEventListener('resize', () => this.fit());
  }

  get active(): boolean {
    return !this.root.hidden;
  }

  /** Leaves video mode (the app opened a volume). */
  close(): void {
    localStorage.removeItem(SAVED);
    this.stopPlay();
    this.root.hidden = true;
    delete document.body.dataset.mode;
  }

  // ---------- opening ----------

  async openFolder(files: File[]): Promise<void> {
    const frames = files.filter((f) => FRAME_FILE.test(f.name) && !f.name.startsWith('.'));
    if (frames.length === 0) {
      this.messages.error(new UserError('the folder holds no PNG or JPEG frames', 'pick a folder of .png/.jpg video frames'));
      return;
    }
    const members: Record<string, [Uint8Array, { level: 0 }]> = {};
    for (const f of frames) members[f.name] = [new Uint8Array(await f.arrayBuffer()), { level: 0 }];
    const dir = (frames[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0] || 'frames';
    await this.open(new File([zipSync(members)], `${dir}.zip`));
  }

  async open(file: File): Promise<void> {
    await this.run('opening', async () => {
      this.stopPlay();
      this.setStatus(`uploading ${file.name}…`);
      const upload = (await this.api.upload(file, file.name)) as unknown as VideoUploadView;
      // A zip of a DICOM series (a PACS export) reads as a volume on the server, but this viewer
      // draws NIfTI-like files only: say so and how to get one, not "not a video".
      if (upload.kind !== 'video' && upload.format === 'dicom-zip')
        throw new UserError(
          `"${file.name}" is a zipped DICOM series, not a video`,
          'open it with Open… (or drop it on the scan view): the app opens DICOM series as volumes',
        );
      if (upload.kind !== 'video')
        throw new UserError(
          `"${file.name}" is not a video or a zip of frames (the server read it as ${upload.format})`,
          'open volumes as NIfTI/NRRD/MHA/npz; videos as mp4, mov, avi, mkv or a zip of PNG/JPEG frames',
        );
      this.setStatus('starting a session (the model loads once)…');
      const session = await this.api.createSession(upload.id);
      // The app's saved volume session is not what is shown any more.
      saveState(undefined);
      localStorage.setItem(SAVED, JSON.stringify({ sessionId: session.id, uploadId: upload.id, fileName: file.name }));
      await this.load(upload, session, file.name);
      this.setStatus('draw a box around the object on a frame');
    });
  }

  /** After a reload: the saved video session, if any, with its masks from the server. True when one was restored. */
  async restore(): Promise<boolean> {
    let saved: {
      sessionId: string;
      uploadId: string;
      fileName: string;
      frame?: number;
      objId?: number;
      objects?: SavedObject[];
    };
    try {
      saved = JSON.parse(localStorage.getItem(SAVED) ?? 'null');
    } catch {
      saved = null as never;
    }
    if (!saved?.sessionId) return false;
    await this.run('restoring', async () => {
      let session: SessionView, upload: VideoUploadView;
      try {
        [session, upload] = await Promise.all([this.api.session(saved.sessionId), fetchUpload(saved.uploadId)]);
      } catch (e) {
        localStorage.removeItem(SAVED);
        throw e;
      }
      await this.load(upload, session, saved.fileName);
      // Hidden flags, objects added but not prompted yet and their names (the server's names of its objects, read next, win).
      for (const o of Array.isArray(saved.objects) ? saved.objects : []) {
        if (!Number.isInteger(o?.objId) || o.objId < 1 || o.objId > MAX_OBJECTS) continue;
        this.objectMeta.set(o.objId, { objId: o.objId, name: String(o.name || `object ${o.objId}`), hidden: !!o.hidden });
        if (!this.objectIds.includes(o.objId)) this.objectIds.push(o.objId);
      }
      await this.reloadMasks();
      // Back where the annotator was: the frame shown and the object being edited.
      if (saved.objId !== undefined && this.objectIds.includes(saved.objId)) this.activeObj = saved.objId;
      this.renderObjects();
      this.frame = saved.frame ?? 0;
      this.redraw();
      this.setStatus('session restored');
    });
    return true;
  }

  private async load(upload: VideoUploadView, session: SessionView, fileName: string): Promise<void> {
    this.upload = upload;
    this.session = session;
    this.fileName = fileName;
    this.masks.clear();
    this.keys.clear();
    this.frames.clear();
    this.strokePreview = undefined;
    this.shownImage = undefined;
    this.objectMeta.clear();
    this.clicks.clear();
    this.boxes.clear();
    this.objectIds = [1];
    this.activeObj = 1;
    this.renderObjects();
    this.enter();
    this.canvas.width = session.cols;
    this.canvas.height = session.rows;
    this.slider.max = String(session.numSlices - 1);
    this.track.width = Math.max(1, session.numSlices);
    this.fit();
    this.showInfo();
    this.frame = -1;
    await this.show(0);
    this.setTool('box');
    this.buttons();
  }

  private enter(): void {
    this.root.hidden = false;
    document.body.dataset.mode = 'video';
  }

  private showInfo(): void {
    const u = this.upload!;
    const rows: [string, string][] = [
      ['file', this.fileName],
      ['kind', 'video'],
      ['format', u.format],
      ['frames', String(u.frames ?? u.dims[2])],
      ['fps', String(u.fps ?? '—')],
      ['size', `${u.dims[0]} × ${u.dims[1]} px`],
      ['bytes', `${(u.bytes / 1048576).toFixed(2)} MB`],
      ['session', this.session?.id.slice(0, 8) ?? '—'],
      ['model', this.session?.model ?? '—'],
    ];
    document.getElementById('info')!.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  // ---------- frames ----------

  private frameImage(k: number): Promise<ImageBitmap> {
    let p = this.frames.get(k);
    if (!p) {
      p = fetchFrame(this.upload!.id, k);
      this.frames.set(k, p);
      p.catch(() => this.frames.delete(k));
    }
    return p;
  }

  /** Shows frame k (clamped) with its masks; prefetches the next few for playback. */
  async show(k: number): Promise<void> {
    const s = this.session;
    if (!s) return;
    k = Math.max(0, Math.min(s.numSlices - 1, Math.round(k)));
    this.frame = k;
    this.remember();
    this.slider.value = String(k);
    this.label.textContent = `frame ${k} / ${s.numSlices - 1}`;
    const seq = ++this.drawSeq;
    for (let j = k + 1; j <= Math.min(s.numSlices - 1, k + 4); j++) void this.frameImage(j).catch(() => {});
    let img: ImageBitmap;
    try {
      img = await this.frameImage(k);
    } catch (e) {
      this.messages.error(e);
      return;
    }
    if (seq !== this.drawSeq) return;
    this.draw(img);
  }

  private draw(img: ImageBitmap): void {
    this.shownImage = img;
    const ctx = this.canvas.getContext('2d')!;
    const { width: W, height: H } = this.canvas;
    ctx.drawImage(img, 0, 0, W, H);
    const over = ctx.getImageData(0, 0, W, H);
    const d = over.data;
    const p = this.strokePreview;
    for (const objId of this.objectIds) {
      if (this.meta(objId).hidden) continue;
      const m = p && p.objId === objId && p.frame === this.frame ? p.mask : this.masks.get(objId)?.get(this.frame);
      if (!m) continue;
      const [r, g, b] = objectColour(objId);
      for (let i = 0; i < m.length; i++) {
        if (!m[i]) continue;
        const j = 4 * i;
        d[j] = (d[j]! * 0.5 + r * 0.5) | 0;
        d[j + 1] = (d[j + 1]! * 0.5 + g * 0.5) | 0;
        d[j + 2] = (d[j + 2]! * 0.5 + b * 0.5) | 0;
      }
    }
    ctx.putImageData(over, 0, 0);
    const shownWidth = this.canvas.getBoundingClientRect().width;
    const perScreenPx = shownWidth > 0 ? W / shownWidth : 1;
    drawBoxes(
      ctx,
      this.boxes.on(this.frame, (id) => this.objectIds.includes(id) && !this.meta(id).hidden),
      perScreenPx,
    );
    drawClicks(ctx, this.clicks.on(this.activeObj, this.frame), perScreenPx);
    document.body.dataset.videoFrame = String(this.frame);
  }

  private redraw(): void {
    void this.show(this.frame);
    this.drawTrack();
    this.renderObjects();
  }

  /** The strip under the scrubber: which frames hold a mask (object colour) and the prompted ones (white). */
  private drawTrack(): void {
    const s = this.session;
    if (!s) return;
    const ctx = this.track.getContext('2d')!;
    ctx.clearRect(0, 0, this.track.width, this.track.height);
    for (const objId of this.objectIds) {
      ctx.fillStyle = cssColour(objId);
      for (const [k, m] of this.masks.get(objId) ?? []) if (m.some((v) => v !== 0)) ctx.fillRect(k, 0, 1, 4);
      ctx.fillStyle = '#fff';
      for (const k of this.keys.get(objId) ?? []) ctx.fillRect(k, 4, 1, 2);
    }
  }

  /** Canvas CSS size: the whole frame inside the wrap, aspect kept. */
  private fit(): void {
    const wrap = this.canvas.parentElement!;
    const W = this.canvas.width || 1,
      H = this.canvas.height || 1;
    const scale = Math.min(wrap.clientWidth / W, wrap.clientHeight / H) || 1;
    this.canvas.style.width = `${Math.floor(W * scale)}px`;
    this.canvas.style.height = `${Math.floor(H * scale)}px`;
  }

  togglePlay(): void {
    if (this.playing !== undefined) {
      this.stopPlay();
      return;
    }
    const s = this.session;
    if (!s) return;
    const fps = Math.min(30, this.upload?.fps ?? 10);
    this.playing = window.setInterval(() => {
      if (this.frame >= s.numSlices - 1) this.stopPlay();
      else void this.show(this.frame + 1);
    }, 1000 / fps);
    document.getElementById('video-play')!.textContent = '❚❚ Pause';
  }

  private stopPlay(): void {
    if (this.playing !== undefined) window.clearInterval(this.playing);
    this.playing = undefined;
    const b = document.getElementById('video-play');
    if (b) b.textContent = '▶ Play';
  }

  // ---------- prompts ----------

  /** Frame pixel (x = column, y = row) → client coordinates of its centre (tests drive the mouse with it). */
  frameToClient(x: number, y: number): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + ((x + 0.5) * r.width) / this.canvas.width, y: r.top + ((y + 0.5) * r.height) / this.canvas.height };
  }

  /** Fractional frame position (pixel centres at integers) of a client point: where a brush dab lands. */
  private clientToFramePoint(cx: number, cy: number): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((cx - r.left) * this.canvas.width) / r.width - 0.5, y: ((cy - r.top) * this.canvas.height) / r.height - 0.5 };
  }

  private clientToFrame(cx: number, cy: number): { x: number; y: number; inside: boolean } {
    const r = this.canvas.getBoundingClientRect();
    const x = Math.floor(((cx - r.left) * this.canvas.width) / r.width);
    const y = Math.floor(((cy - r.top) * this.canvas.height) / r.height);
    return { x, y, inside: x >= 0 && y >= 0 && x < this.canvas.width && y < this.canvas.height };
  }

  setTool(t: VideoTool): void {
    this.tool = t;
    if (t !== 'brush' && t !== 'eraser') this.cursor.hidden = true;
    for (const b of this.root.querySelectorAll<HTMLButtonElement>('[data-vtool]')) b.classList.toggle('active', b.dataset.vtool === t);
  }

  private onPointerDown(e: PointerEvent): void {
    const s = this.session;
    if (e.button !== 0 || !s) return;
    if (this.tool === 'brush' || this.tool === 'eraser') {
      // Over the stroke still on its way to the server, if it is on this frame: what will be stored.
      const p = this.strokePreview;
      const base = p && p.objId === this.activeObj && p.frame === this.frame ? p.mask : this.masks.get(this.activeObj)?.get(this.frame);
      this.brush.begin(this.tool === 'brush' ? 'paint' : 'erase', s.axis, this.frame, s.rows, s.cols, base);
      this.addStrokePoint(e);
      this.canvas.setPointerCapture(e.pointerId);
      return;
    }
    const p = this.clientToFrame(e.clientX, e.clientY);
    this.dragStart = { x: p.x, y: p.y, cx: e.clientX, cy: e.clientY };
    this.canvas.setPointerCapture(e.pointerId);
  }

  private onPointerMove(e: PointerEvent): void {
    if (this.tool === 'brush' || this.tool === 'eraser') this.showBrushCursor(e);
    if (this.brush.drawing) {
      this.addStrokePoint(e);
      return;
    }
    const s = this.dragStart;
    if (!s || this.tool !== 'box') return;
    const wrap = this.canvas.parentElement!.getBoundingClientRect();
    const st = this.preview.style;
    st.left = `${Math.min(s.cx, e.clientX) - wrap.left}px`;
    st.top = `${Math.min(s.cy, e.clientY) - wrap.top}px`;
    st.width = `${Math.abs(e.clientX - s.cx)}px`;
    st.height = `${Math.abs(e.clientY - s.cy)}px`;
    this.preview.hidden = false;
  }

  private onPointerUp(e: PointerEvent): void {
    if (this.brush.drawing) {
      this.finishStroke();
      return;
    }
    const s = this.dragStart;
    this.dragStart = undefined;
    this.preview.hidden = true;
    if (!s || !this.session) return;
    const end = this.clientToFrame(e.clientX, e.clientY);
    const start = this.clientToFrame(s.cx, s.cy);
    if (!start.inside || !end.inside) {
      this.messages.error(new UserError('the prompt is outside the frame', 'draw inside the picture'));
      return;
    }
    if (this.tool === 'box') {
      const box: [number, number, number, number] = [
        Math.min(start.x, end.x),
        Math.min(start.y, end.y),
        Math.max(start.x, end.x),
        Math.max(start.y, end.y),
      ];
      if (box[2] - box[0] < 2 || box[3] - box[1] < 2) {
        this.messages.error(new UserError('the box is too small', 'drag a box around the object'));
        return;
      }
      void this.sendPrompt({ box, replace: true });
    } else {
      const label = this.tool === 'positive' ? 1 : 0;
      // A click on a frame propagation reached (not one of the object's prompted frames) is a correction.
      const reached =
        this.masks
          .get(this.activeObj)
          ?.get(this.frame)
          ?.some((v) => v !== 0) ?? false;
      const correction = reached && !this.keys.get(this.activeObj)?.has(this.frame);
      void this.sendPrompt({ points: [{ x: end.x, y: end.y, label }], ...(correction ? { correction } : {}) });
    }
  }

  /** A circle of the brush's size under the mouse (radius in screen pixels from the canvas scale). */
  private showBrushCursor(e: PointerEvent): void {
    const r = this.canvas.getBoundingClientRect();
    const wrap = this.canvas.parentElement!.getBoundingClientRect();
    const px = (this.brush.radius + 0.5) * (r.width / (this.canvas.width || 1));
    const st = this.cursor.style;
    st.left = `${e.clientX - wrap.left - px}px`;
    st.top = `${e.clientY - wrap.top - px}px`;
    st.width = st.height = `${2 * px}px`;
    this.cursor.className = this.tool;
    this.cursor.hidden = false;
  }

  /** Adds the pointer's position to the stroke and shows the frame as it will be stored (once per animation frame). */
  private addStrokePoint(e: PointerEvent): void {
    const p = this.clientToFramePoint(e.clientX, e.clientY);
    const mask = this.brush.add(p.x, p.y);
    const t = this.brush.target;
    if (!mask || !t) return;
    this.strokePreview = { objId: this.activeObj, frame: t.slice, mask };
    if (this.previewFrame !== undefined) return;
    this.previewFrame = requestAnimationFrame(() => {
      this.previewFrame = undefined;
      if (this.shownImage && this.strokePreview?.frame === this.frame) this.draw(this.shownImage);
    });
  }

  /** Sends the finished stroke as one literal edit of the frame (queued behind earlier strokes); the server's mask replaces the preview. */
  private finishStroke(): void {
    const session = this.session;
    const objId = this.activeObj;
    if (!session) {
      this.brush.end();
      return;
    }
    this.brush.finish(async (done) => {
      const t0 = performance.now();
      try {
        const m = await this.api.edit(session.id, { objId, slice: done.slice, stroke: done.stroke });
        this.applyMask(m);
        this.addKey(m.objId, m.slice);
        this.session = await this.api.session(session.id);
        this.setStatus(strokeStatus(`frame ${m.slice}`, done.stroke.mode, m.area ?? 0, performance.now() - t0));
      } catch (e) {
        // The preview showed something the server did not store: show what it has.
        this.messages.error(e);
        await this.reloadMasks().catch(() => undefined);
      } finally {
        if (!this.brush.drawing) this.strokePreview = undefined;
        this.redraw();
        this.buttons();
      }
    });
  }

  /** Brush / eraser radius in frame pixels. */
  growBrush(by: number): void {
    const r = this.brush.grow(by);
    document.getElementById('video-brush-radius')!.textContent = String(r);
    this.setStatus(`brush radius ${r} px`);
  }

  private addKey(objId: number, frame: number): void {
    const k = this.keys.get(objId) ?? new Set<number>();
    k.add(frame);
    this.keys.set(objId, k);
  }

  private async sendPrompt(p: {
    box?: [number, number, number, number];
    points?: { x: number; y: number; label: 0 | 1 }[];
    replace?: boolean;
    correction?: boolean;
  }): Promise<void> {
    const session = this.session!;
    const frame = this.frame;
    await this.run('prompting', async () => {
      this.setStatus(`segmenting frame ${frame}…`);
      const t0 = performance.now();
      const m = await this.api.prompt(session.id, { objId: this.activeObj, slice: frame, ...p });
      const ms = Math.round(performance.now() - t0);
      this.applyMask(m);
      this.addKey(m.objId, frame);
      // A box replaces the frame's prompts on the server: its clicks and box go; a click or box is drawn where it was made.
      if (p.replace) {
        this.clicks.clearFrame(m.objId, frame);
        this.boxes.clearFrame(m.objId, frame);
      }
      if (p.box) this.boxes.set(m.objId, frame, p.box);
      for (const c of p.points ?? []) this.clicks.add(m.objId, frame, c);
      this.remember();
      this.redraw();
      // The view counts what redo could bring back (a new prompt clears it).
      this.session = await this.api.session(session.id);
      this.setStatus(`frame ${frame}: ${m.area ?? 0} px in ${ms} ms`);
      // An object named before its first prompt: the server has it now, so it keeps the name too.
      const name = this.objectMeta.get(m.objId)?.name;
      if (name && name !== `object ${m.objId}` && !session.objects.some((o) => o.objId === m.objId))
        this.session = await this.api.renameObject(session.id, m.objId, name).catch((e: unknown) => {
          this.messages.error(e);
          return this.session!;
        });
    });
  }

  private applyMask(m: SliceMask): void {
    let o = this.masks.get(m.objId);
    if (!o) this.masks.set(m.objId, (o = new Map()));
    o.set(m.slice, decodeRle(m.mask));
    if (!this.objectIds.includes(m.objId)) {
      this.objectIds.push(m.objId);
      this.renderObjects();
    }
  }

  addObject(): void {
    const id = Math.max(...this.objectIds) + 1;
    if (id > MAX_OBJECTS) {
      this.messages.error(
        new UserError(
          `a video session holds at most ${MAX_OBJECTS} objects (its masks are 8-bit labels)`,
          'delete an object you no longer need (✕ in the object list), or export and start a new session for more',
        ),
      );
      return;
    }
    this.objectIds.push(id);
    this.activeObj = id;
    this.renderObjects();
    this.remember();
    this.redraw();
  }

  private meta(objId: number): SavedObject {
    return this.objectMeta.get(objId) ?? { objId, name: `object ${objId}`, hidden: false };
  }

  private selectObject(objId: number): void {
    this.activeObj = objId;
    this.afterObjectChange();
  }

  private afterObjectChange(): void {
    this.remember();
    this.redraw();
  }

  /** Deletes the object on the server (its masks on every frame and its prompts: the exports follow) and from the list. */
  async removeObject(objId: number): Promise<void> {
    const session = this.session;
    if (!session || this.propagating) return;
    const name = this.meta(objId).name;
    await this.run('deleting', async () => {
      if (session.objects.some((o) => o.objId === objId)) {
        this.session = await this.api.removeObject(session.id, objId);
        await this.reloadMasks();
      }
      this.masks.delete(objId);
      this.keys.delete(objId);
      this.clicks.removeObject(objId);
      this.boxes.removeObject(objId);
      this.objectMeta.delete(objId);
      this.objectIds = this.objectIds.filter((id) => id !== objId);
      if (this.objectIds.length === 0) this.objectIds.push(1);
      if (!this.objectIds.includes(this.activeObj)) this.activeObj = this.objectIds[0]!;
      this.setStatus(`deleted ${name}`);
    });
    this.afterObjectChange();
  }

  /**
   * Renames an object: on the server when it has the object (reloads, other browsers and masks.zip's
   * labels.json see the name; a name it refuses keeps the old one and says why), else here until its first prompt.
   */
  async renameObject(objId: number, name: string): Promise<void> {
    const session = this.session;
    if (session?.objects.some((o) => o.objId === objId)) {
      await this.run('renaming', async () => {
        this.session = await this.api.renameObject(session.id, objId, name);
        const stored = this.session.objects.find((o) => o.objId === objId)?.name ?? name;
        this.objectMeta.set(objId, { ...this.meta(objId), name: stored });
        this.setStatus(`renamed object ${objId} to ${stored}`);
      });
    } else this.objectMeta.set(objId, { ...this.meta(objId), name });
    this.afterObjectChange();
  }

  /** Keeps the shown frame and the active object with the saved session, so a reload comes back to them. */
  private remember(): void {
    const raw = localStorage.getItem(SAVED);
    if (!raw || !this.session) return;
    try {
      const saved = JSON.parse(raw) as { sessionId?: string };
      if (saved.sessionId !== this.session.id) return;
      localStorage.setItem(
        SAVED,
        JSON.stringify({
          ...saved,
          frame: this.frame,
          objId: this.activeObj,
          objects: this.objectIds.map((id) => this.meta(id)),
        }),
      );
    } catch {
      // A malformed entry is replaced when a video is next opened.
    }
  }

  private renderObjects(): void {
    this.objectSelect.replaceChildren(
      ...this.objectIds.map((id) => {
        const o = h('option', { value: String(id) }, this.meta(id).name);
        o.style.color = cssColour(id);
        return o;
      }),
    );
    this.objectSelect.value = String(this.activeObj);
    this.panel.render(
      this.objectIds.map((id) => {
        const frames = [...(this.masks.get(id) ?? [])].filter(([, m]) => m.some((v) => v !== 0)).map(([k]) => k);
        return {
          ...this.meta(id),
          voxels: frames.length,
          ml: 0,
          first: frames.length ? Math.min(...frames) : -1,
          last: frames.length ? Math.max(...frames) : -1,
        };
      }),
      this.activeObj,
    );
  }

  // ---------- propagate, cancel, undo, export ----------

  async propagate(): Promise<void> {
    const session = this.session;
    if (!session || this.propagating) return;
    if (this.keys.size === 0) {
      this.messages.error(new UserError('nothing to propagate yet', 'draw a box on a frame first'));
      return;
    }
    await this.run('propagating', async () => {
      this.propagating = true;
      this.buttons();
      const progress = document.getElementById('progress') as HTMLProgressElement;
      progress.value = 0;
      this.setStatus('propagating…');
      const t0 = performance.now();
      try {
        const out = await this.api.propagate(
          session.id,
          {},
          {
            onProgress: (done, total) => {
              progress.value = total ? done / total : 0;
              // The server counts object × frame steps: with several objects say so, not "12 / 12 frames" of a 6-frame clip.
              const n = session.numSlices;
              const objects = Math.round(total / n);
              this.setStatus(
                objects > 1 && total === objects * n
                  ? `propagating: ${done} / ${total} (${objects} objects × ${n} frames)`
                  : `propagating: ${done} / ${total} frames`,
              );
            },
            onMask: (m) => {
              this.applyMask(m);
              if (m.slice === this.frame) void this.show(this.frame);
              this.drawTrack();
            },
          },
        );
        progress.value = out.kind === 'done' ? 1 : 0;
        this.session = await this.api.session(session.id);
        if (out.kind === 'cancelled') {
          await this.reloadMasks();
          this.setStatus('propagation cancelled');
        } else this.setStatus(`propagated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        document.body.dataset.propagated = out.kind;
      } finally {
        this.propagating = false;
        this.buttons();
      }
    });
    this.redraw();
  }

  async cancel(): Promise<void> {
    if (this.session && this.propagating) await this.api.cancel(this.session.id).catch((e: unknown) => this.messages.error(e));
  }

  undo(): Promise<void> {
    return this.history.undo();
  }

  redo(): Promise<void> {
    return this.history.redo();
  }

  /** Every frame's masks (one masks.npz), every object's prompted frames, prompts and name from the server (after undo, a cancel, a reload). */
  private async reloadMasks(): Promise<void> {
    const session = this.session!;
    const [view, npz, prompts] = await Promise.all([
      this.api.session(session.id),
      fetchExport(session.id, 'masks.npz'),
      fetchPrompts(session.id),
    ]);
    const segs = readSegs(new Uint8Array(await npz.arrayBuffer()));
    this.session = view;
    this.masks.clear();
    this.keys.clear();
    const px = segs.rows * segs.cols;
    for (const o of view.objects) {
      this.keys.set(o.objId, new Set(o.keys));
      // The server's name wins (another browser may have renamed it).
      if (o.name) this.objectMeta.set(o.objId, { ...this.meta(o.objId), name: o.name });
      if (!this.objectIds.includes(o.objId)) this.objectIds.push(o.objId);
      const masks = new Map<number, Uint8Array>();
      for (const k of o.slices)
        masks.set(
          k,
          Uint8Array.from(segs.data.subarray(k * px, (k + 1) * px), (v) => (v === o.objId ? 1 : 0)),
        );
      this.masks.set(o.objId, masks);
    }
    this.clicks.set(prompts.clicks);
    this.boxes.replaceAll(prompts.boxes);
    this.renderObjects();
  }

  async exportFile(file: VideoExport): Promise<void> {
    const session = this.session;
    if (!session) return;
    await this.run('exporting', async () => {
      this.setStatus(`building ${file}…`);
      const blob = await fetchExport(session.id, file);
      const a = h('a', { href: URL.createObjectURL(blob), download: `${this.fileName.replace(/\.[^.]+$/, '')}-${file}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      this.setStatus(`downloaded ${file}`);
    });
  }

  // ---------- plumbing ----------

  /**
   * Video mode's keys, listed in the help overlay (its own table there: volume mode's keys are
   * off while a video is shown). Tool keys are volume mode's: X box, P/N clicks, B brush, E eraser.
   */
  private installKeys(): void {
    const help = document.getElementById('help')!;
    const table = h('table', { id: 'video-help-table' });
    document.getElementById('help-table')?.after(table);
    const exportNow = () =>
      void this.exportFile((document.getElementById('video-export-format') as HTMLSelectElement).value as VideoExport);
    const keys: Shortcut[] = [
      { keys: ['ArrowRight'], label: 'Next frame', run: () => void this.show(this.frame + 1) },
      { keys: ['ArrowLeft'], label: 'Previous frame', run: () => void this.show(this.frame - 1) },
      { keys: ['Home'], label: 'First frame', run: () => void this.show(0) },
      { keys: ['End'], label: 'Last frame', run: () => void this.show(Number.MAX_SAFE_INTEGER) },
      { keys: [' '], label: 'Play / pause', run: () => this.togglePlay() },
      { keys: ['x'], label: 'Box prompt tool', run: () => this.setTool('box') },
      { keys: ['p'], label: 'Positive click tool', run: () => this.setTool('positive') },
      { keys: ['n'], label: 'Negative click tool', run: () => this.setTool('negative') },
      ...brushShortcuts('frame', { setTool: (t) => this.setTool(t), grow: (by) => this.growBrush(by) }),
      { keys: ['a'], label: 'Add an object', run: () => this.addObject() },
      { keys: ['Enter'], label: 'Propagate through every frame', run: () => void this.propagate() },
      {
        keys: ['Escape'],
        label: 'Cancel propagation / close help',
        run: () => {
          if (!help.hidden) help.hidden = true;
          else void this.cancel();
        },
      },
      ...this.history.shortcuts(),
      { keys: ['ctrl+s'], label: 'Export (the format chosen)', run: exportNow },
      { keys: ['o'], label: 'Open a video or scan', run: () => document.getElementById('file')?.click() },
      {
        keys: ['?'],
        label: 'This help',
        run: () => {
          help.hidden = !help.hidden;
        },
      },
    ];
    installShortcuts(keys, table, { active: () => this.active });
  }

  private buttons(): void {
    const $ = (id: string) => document.getElementById(id) as HTMLButtonElement;
    $('video-propagate').disabled = this.propagating;
    $('video-cancel').disabled = !this.propagating;
    History.enable($('video-undo'), $('video-redo'), this.session, this.propagating);
    $('video-export').disabled = this.propagating;
  }

  private setStatus(s: string): void {
    document.getElementById('status')!.textContent = s;
  }

  private run(what: string, work: () => Promise<void>): Promise<void> {
    return this.guard.run(what, work);
  }
}
