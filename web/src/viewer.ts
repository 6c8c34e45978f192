/**
 * The NiiVue view: the scan (axial/coronal/sagittal + 3D render), one label overlay holding every
 * object's mask, and the mapping between the canvas and voxel indices of the source volume
 * (x = column, y = row, z = slice, exactly as the server and the CLI's --box count them).
 * NiiVue reorients images to RAS internally, so voxels are always derived from world millimetres
 * through the file's own affine, never from NiiVue's reoriented voxel grid.
 */
import { DRAG_MODE, NVImage, Niivue, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';
import { OBJECT_COLOURS } from './colours.js';
import { syncSlices } from './storedLabels.js';
import { CT_AUTO, looksLikeHounsfield, WINDOW_PRESETS, type WindowLevel } from './windowPresets.js';

/** NIfTI's datatype code of unsigned 8-bit voxels. */
const EIGHT_BIT = 2;

export type ViewLayout = 'multi' | 'axial' | 'coronal' | 'sagittal' | 'render';

export interface VoxelHit {
  /** Fractional voxel position (column, row, slice) of the source volume. */
  x: number;
  y: number;
  z: number;
  /** 0 axial, 1 coronal, 2 sagittal (NiiVue's SLICE_TYPE). */
  view: number;
}

type Mat4 = number[][];

function invert4(m: Mat4): Mat4 {
  // Gauss-Jordan on a 4x4: enough for an affine and avoids a matrix dependency here.
  const a = m.map((r, i) => [...r, ...[0, 1, 2, 3].map((j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const d = a[c]![c]!;
    if (Math.abs(d) < 1e-12) throw new Error('the image affine is singular');
    for (let j = 0; j < 8; j++) a[c]![j]! /= d;
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let j = 0; j < 8; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((r) => r.slice(4));
}

function apply(m: Mat4, v: number[]): number[] {
  return [0, 1, 2].map((i) => m[i]![0]! * v[0]! + m[i]![1]! * v[1]! + m[i]![2]! * v[2]! + m[i]![3]!);
}

export class Viewer {
  readonly nv: Niivue;
  private image?: NVImage;
  private labels?: NVImage;
  private affine: Mat4 = [];
  private inverse: Mat4 = [];
  dims: [number, number, number] = [0, 0, 0];
  private hidden = new Set<number>();
  /** Called with the native voxel of the crosshair whenever it moves. */
  onSliceChange: (z: number) => void = () => {};

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.nv = new Niivue({
      backColor: [0.06, 0.07, 0.09, 1],
      isRadiologicalConvention: true,
      multiplanarShowRender: SHOW_RENDER.ALWAYS,
      dragAndDropEnabled: false,
      show3Dcrosshair: true,
      crosshairColor: [0.2, 0.8, 1, 0.6],
      // NiiVue's default is one voxel wide: 3 mm lines on a 3 mm scan hid the anatomy under them.
      crosshairWidth: 0.5,
      crosshairWidthUnit: 'mm',
      isColorbar: false,
      loadingText: 'open a scan: Open... or drop a file here',
    });
    this.nv.onLocationChange = () => this.onSliceChange(this.crosshairSlice());
    // NiiVue's double-click reset of the window and its contrast-box drag (its windowing drag itself
    // reports nothing: see watchWindowing).
    this.nv.onIntensityChange = () => (this.resetting ? this.setWindow('auto') : this.noteWindow());
  }

  async attach(): Promise<void> {
    await this.nv.attachToCanvas(this.canvas);
    this.pickDragModePerTile();
    this.watchWindowing();
    this.nv.setSliceType(SLICE_TYPE.MULTIPLANAR);
  }

  get loaded(): boolean {
    return this.image !== undefined;
  }

  /** Shows a scan (bytes of a file NiiVue reads: NIfTI, NRRD, MHA) with an empty label overlay. */
  async show(bytes: Uint8Array, name: string): Promise<void> {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    // Parsed before the current scan is taken down, so an unreadable file leaves the view as it was.
    const image = await NVImage.loadFromUrl({ url: name, name, buffer, colormap: 'gray' });
    const hdr = image.hdr;
    if (!hdr || !(hdr.dims[1]! > 0 && hdr.dims[2]! > 0)) throw new Error('no image grid in the file');
    for (const v of [...this.nv.volumes]) this.nv.removeVolume(v);
    this.dims = [hdr.dims[1]!, hdr.dims[2]!, Math.max(1, hdr.dims[3]!)];
    this.affine = hdr.affine.map((r) => [...r]);
    this.inverse = invert4(this.affine);
    const zeros = new Uint8Array(this.dims[0] * this.dims[1] * this.dims[2]);
    const labelBytes = NVImage.createNiftiArray(
      this.dims,
      [hdr.pixDims[1]!, hdr.pixDims[2]!, hdr.pixDims[3]!],
      this.affine.flat(),
      2,
      zeros,
    );
    const labels = await NVImage.loadFromUrl({ url: 'labels.nii', name: 'labels.nii', buffer: labelBytes.slice().buffer, opacity: 0.5 });
    this.image = image;
    this.labels = labels;
    this.applyColours();
    this.nv.addVolume(image);
    this.nv.addVolume(labels);
    this.labels.img = zeros;
    this.nv.updateGLVolume();
    this.goToSlice(Math.floor(this.dims[2] / 2));
  }

  /** Highest object id the colour table covers (grown on demand; NiiVue tints everything with a 256-entry table). */
  private maxLabel = 8;

  private applyColours(): void {
    if (!this.labels) return;
    const n = this.maxLabel;
    const R: number[] = [0],
      G: number[] = [0],
      B: number[] = [0],
      A: number[] = [0],
      I: number[] = [0];
    for (let id = 1; id <= n; id++) {
      const c = OBJECT_COLOURS[(id - 1) % OBJECT_COLOURS.length]!;
      R.push(c[0]);
      G.push(c[1]);
      B.push(c[2]);
      A.push(this.hidden.has(id) ? 0 : 255);
      I.push(id);
    }
    this.labels.setColormapLabel({ R, G, B, A, I });
  }

  /** Makes sure object ids up to `objId` have colours. */
  coverLabel(objId: number): void {
    if (objId <= this.maxLabel) return;
    this.maxLabel = objId;
    this.applyColours();
    this.nv.updateGLVolume();
  }

  setHidden(objId: number, hidden: boolean): void {
    if (hidden) this.hidden.add(objId);
    else this.hidden.delete(objId);
    this.applyColours();
    this.nv.updateGLVolume();
  }

  setOpacity(opacity: number): void {
    if (this.labels) this.nv.setOpacity(1, opacity);
  }

  /** The layout shown (what a reload restores). */
  layout: ViewLayout = 'multi';

  setLayout(layout: ViewLayout): void {
    this.layout = layout;
    const t = {
      multi: SLICE_TYPE.MULTIPLANAR,
      axial: SLICE_TYPE.AXIAL,
      coronal: SLICE_TYPE.CORONAL,
      sagittal: SLICE_TYPE.SAGITTAL,
      render: SLICE_TYPE.RENDER,
    }[layout];
    this.nv.setSliceType(t);
  }

  /**
   * Left-drag behaviour: windowing when navigating (x: width, y: level, as Slicer's W/L mode), the
   * crosshair otherwise (the app's own prompt tools draw on top). NiiVue drives the left button by
   * dragModePrimary; dragMode is the right button's (setting only that left the left drag moving
   * the crosshair under "Navigate: drag to window").
   */
  setPromptMode(prompting: boolean): void {
    this.navigating = !prompting;
    this.nv.opts.dragModePrimary = prompting ? DRAG_MODE.crosshair : DRAG_MODE.windowing;
    this.nv.opts.dragMode = prompting ? DRAG_MODE.callbackOnly : DRAG_MODE.contrast;
  }

  private navigating = false;

  /**
   * NiiVue applies one primary drag mode to every tile, and windowing would stop a drag on the 3D
   * tile turning it: in Navigate the mode is picked per press (windowing on a 2D slice, crosshair
   * elsewhere, which turns the 3D view), before NiiVue's own handler (capture on the parent).
   */
  private pickDragModePerTile(): void {
    this.canvas.parentElement?.addEventListener(
      'pointerdown',
      (e) => {
        if (this.navigating) this.nv.opts.dragModePrimary = this.hit(e) ? DRAG_MODE.windowing : DRAG_MODE.crosshair;
      },
      { capture: true },
    );
  }

  /** The window shown: 'auto', a preset's name or 'custom', with its width and level. */
  private shownWindow: { name: string; w: WindowLevel } = { name: 'auto', w: { width: 0, level: 0 } };

  /** Called whenever the window shown changes: picked, or dragged in Navigate ('custom'). */
  onWindowChange: (name: string, w: WindowLevel) => void = () => {};

  get window(): { name: string; w: WindowLevel } {
    return { name: this.shownWindow.name, w: { ...this.shownWindow.w } };
  }

  /**
   * Shows the scan through a window: a preset, 'auto' (soft tissue on a CT in Hounsfield units,
   * else NiiVue's robust range: see windowPresets.ts) or 'custom' with `custom`'s W/L. Display
   * only: the server's model input is windowed by its own preprocessing.
   */
  setWindow(name: string, custom?: WindowLevel): void {
    const img = this.image;
    if (!img) return;
    const w = name === 'custom' ? custom : (WINDOW_PRESETS[name] ?? this.autoWindow(img));
    if (!w) return;
    img.cal_min = w.level - w.width / 2;
    img.cal_max = w.level + w.width / 2;
    this.shownWindow = { name, w: this.imageWindow(img) };
    this.nv.updateGLVolume();
    this.onWindowChange(name, this.window.w);
  }

  private autoWindow(img: NVImage): WindowLevel {
    const min = img.global_min ?? 0,
      max = img.global_max ?? 255;
    if (looksLikeHounsfield(min, max)) return CT_AUTO;
    // 8-bit data (a photo, a video frame, a MedSAM2 .npz already windowed to 0–255) is shown as
    // stored: a percentile stretch made the Kvasir photos harsh.
    if (img.hdr?.datatypeCode === EIGHT_BIT) return { width: 255, level: 127.5 };
    const lo = img.robust_min ?? min,
      hi = img.robust_max ?? max;
    return { width: hi - lo, level: (hi + lo) / 2 };
  }

  private imageWindow(img: NVImage): WindowLevel {
    const lo = img.cal_min ?? 0,
      hi = img.cal_max ?? 0;
    return { width: hi - lo, level: (hi + lo) / 2 };
  }

  /** Set while NiiVue handles a double-click: its window reset then is the app's 'auto' (watchWindowing). */
  private resetting = false;

  /** A window NiiVue changed by itself (a Navigate drag, its contrast box) is 'custom'. */
  private noteWindow(): void {
    const img = this.image;
    if (!img) return;
    const w = this.imageWindow(img);
    const s = this.shownWindow.w;
    if (Math.abs(w.width - s.width) < 1e-6 && Math.abs(w.level - s.level) < 1e-6) return;
    this.shownWindow = { name: 'custom', w };
    this.onWindowChange('custom', { ...w });
  }

  /**
   * NiiVue's windowing drag changes cal_min / cal_max without a callback: each move and release
   * is checked once NiiVue has handled it (a timer after the event's dispatch).
   */
  private watchWindowing(): void {
    const parent = this.canvas.parentElement;
    if (!parent) return;
    // A double-click is NiiVue's "reset the window" to its auto range (2-98 %): the list read
    // "custom" with NiiVue's numbers, while "auto" showed another window. It is the app's 'auto'
    // (the soft-tissue window on a CT, 8-bit data as stored, else that same 2-98 % range), so the
    // list, the corner's W/L and the picture agree. Capture: this runs before NiiVue's handler.
    parent.addEventListener(
      'dblclick',
      () => {
        this.resetting = true;
        setTimeout(() => {
          this.resetting = false;
        }, 0);
      },
      { capture: true },
    );
    for (const type of ['pointermove', 'pointerup'] as const)
      parent.addEventListener(
        type,
        (e) => {
          if (this.navigating && (type === 'pointerup' || e.buttons !== 0)) setTimeout(() => this.noteWindow(), 0);
        },
        { capture: true },
      );
  }

  /** Native voxel (fractional) of a world position in RAS millimetres. */
  private mmToVoxel(mm: ArrayLike<number>): number[] {
    return apply(this.inverse, [mm[0]!, mm[1]!, mm[2]!]);
  }

  crosshairSlice(): number {
    return this.crosshairIndex(2);
  }

  /** Voxel index of the crosshair along voxel axis 0 (x: sagittal), 1 (y: coronal) or 2 (z: axial). */
  crosshairIndex(axis: number): number {
    if (!this.image) return 0;
    const mm = this.nv.frac2mm(this.nv.scene.crosshairPos);
    return Math.round(this.mmToVoxel(mm)[axis]!);
  }

  /** The crosshair's voxel position, fractional (what a reload puts back exactly). */
  crosshairVoxel(): number[] {
    if (!this.image) return [0, 0, 0];
    return this.mmToVoxel(this.nv.frac2mm(this.nv.scene.crosshairPos));
  }

  /** Moves the crosshair to slice z (keeping x, y) so the axial view shows it. */
  goToSlice(z: number): void {
    this.goToIndex(2, z);
  }

  /**
   * Moves the crosshair to index k along voxel `axis` (the other two kept), clamped to the scan:
   * the view of that axis (axial z, coronal y, sagittal x) then shows plane k.
   */
  goToIndex(axis: number, k: number): void {
    if (!this.image) return;
    const kc = Math.max(0, Math.min(this.dims[axis]! - 1, Math.round(k)));
    const mm = this.nv.frac2mm(this.nv.scene.crosshairPos);
    const v = this.mmToVoxel(mm);
    v[axis] = kc;
    const target = apply(this.affine, [v[0]!, v[1]!, v[2]!]);
    this.nv.scene.crosshairPos = this.nv.mm2frac([target[0]!, target[1]!, target[2]!]);
    this.nv.drawScene();
    this.onSliceChange(this.crosshairSlice());
  }

  /** The voxel under a mouse event, or undefined off the 2D slices. */
  hit(e: MouseEvent): VoxelHit | undefined {
    if (!this.image) return undefined;
    const rect = this.canvas.getBoundingClientRect();
    const dpr = this.nv.uiData.dpr ?? window.devicePixelRatio ?? 1;
    const px = (e.clientX - rect.left) * dpr;
    const py = (e.clientY - rect.top) * dpr;
    const tile = this.nv.screenSlices.find((s) => {
      const [l, t, w, h] = s.leftTopWidthHeight as number[];
      const x0 = Math.min(l!, l! + w!),
        x1 = Math.max(l!, l! + w!);
      return s.axCorSag <= SLICE_TYPE.SAGITTAL && px >= x0 && px <= x1 && py >= t! && py <= t! + h!;
    });
    if (!tile) return undefined;
    const frac = this.nv.canvasPos2frac([px, py]);
    if (frac[0]! < 0) return undefined;
    const v = this.mmToVoxel(this.nv.frac2mm(frac));
    return { x: v[0]!, y: v[1]!, z: v[2]!, view: tile.axCorSag };
  }

  /**
   * Client (page) coordinates of the centre of voxel (x, y) on the slice the axial view shows —
   * used to place the box preview, and by the end-to-end test to aim real mouse events.
   */
  voxelToClient(x: number, y: number): { x: number; y: number } | undefined {
    if (!this.image) return undefined;
    const z = this.crosshairSlice();
    const mm = apply(this.affine, [x, y, z]);
    const frac = this.nv.mm2frac([mm[0]!, mm[1]!, mm[2]!]);
    const r = this.nv.frac2canvasPosWithTile(frac, SLICE_TYPE.AXIAL);
    if (!r) return undefined;
    const rect = this.canvas.getBoundingClientRect();
    const dpr = this.nv.uiData.dpr ?? window.devicePixelRatio ?? 1;
    return { x: rect.left + r.pos[0]! / dpr, y: rect.top + r.pos[1]! / dpr };
  }

  /**
   * A slice along voxel `axis` as the server counts it (src/preprocess/slices.ts): axis 2 (z):
   * rows = y, cols = x; axis 1 (y): rows = z, cols = x; axis 0 (x): rows = z, cols = y.
   * Returns the rows, cols and the voxel index of (row, col) = base + row * rowStride + col * colStride.
   */
  sliceGeometry(axis: number, index: number): { rows: number; cols: number; base: number; rowStride: number; colStride: number } {
    const [X, Y, Z] = this.dims;
    if (axis === 2) return { rows: Y, cols: X, base: index * X * Y, rowStride: X, colStride: 1 };
    if (axis === 1) return { rows: Z, cols: X, base: index * X, rowStride: X * Y, colStride: 1 };
    return { rows: Z, cols: Y, base: index, rowStride: X * Y, colStride: X };
  }

  /**
   * Client coordinates of voxel (x, y, z) on the tile of `view` (0 axial, 1 coronal, 2 sagittal),
   * or undefined when that view is not shown. The crosshair must be on the voxel's plane of that view.
   */
  voxelToClientOn(x: number, y: number, z: number, view: number): { x: number; y: number } | undefined {
    if (!this.image) return undefined;
    const mm = apply(this.affine, [x, y, z]);
    const frac = this.nv.mm2frac([mm[0]!, mm[1]!, mm[2]!]);
    const r = this.nv.frac2canvasPosWithTile(frac, view);
    if (!r) return undefined;
    const rect = this.canvas.getBoundingClientRect();
    const dpr = this.nv.uiData.dpr ?? window.devicePixelRatio ?? 1;
    return { x: rect.left + r.pos[0]! / dpr, y: rect.top + r.pos[1]! / dpr };
  }

  /** Screen pixels per voxel step on the view of a hit (for sizing the brush cursor). */
  pixelsPerVoxel(h: VoxelHit): number | undefined {
    const step: [number, number, number] = h.view === 2 ? [0, 1, 0] : [1, 0, 0];
    const a = this.voxelToClientOn(h.x, h.y, h.z, h.view);
    const b = this.voxelToClientOn(h.x + step[0], h.y + step[1], h.z + step[2], h.view);
    return a && b ? Math.hypot(b.x - a.x, b.y - a.y) : undefined;
  }

  /** Moves the crosshair to voxel (x, y, z): each view then shows the plane through it. */
  goToVoxel(x: number, y: number, z: number): void {
    if (!this.image) return;
    const mm = apply(this.affine, [x, y, z]);
    this.nv.scene.crosshairPos = this.nv.mm2frac([mm[0]!, mm[1]!, mm[2]!]);
    this.nv.drawScene();
    this.onSliceChange(Math.round(z));
  }

  /** Writes one object's mask on a slice (row-major rows x cols, see sliceGeometry) into the overlay. */
  setSliceMask(objId: number, index: number, mask: Uint8Array | undefined, axis = 2): void {
    if (!this.labels) return;
    const img = this.labels.img as Uint8Array;
    const g = this.sliceGeometry(axis, index);
    this.markDirty(axis, index);
    if (axis === 2) {
      const n = g.rows * g.cols;
      const off = g.base;
      for (let i = 0; i < n; i++) {
        if (mask && mask[i] === 1) img[off + i] = objId;
        else if (img[off + i] === objId) img[off + i] = 0;
      }
      return;
    }
    for (let r = 0; r < g.rows; r++)
      for (let c = 0; c < g.cols; c++) {
        const v = g.base + r * g.rowStride + c * g.colStride;
        if (mask && mask[r * g.cols + c] === 1) img[v] = objId;
        else if (img[v] === objId) img[v] = 0;
      }
  }

  /** One object's mask on a slice as the overlay shows it (undefined when empty there). */
  sliceMask(objId: number, index: number, axis = 2): Uint8Array | undefined {
    if (!this.labels) return undefined;
    const img = this.labels.img as Uint8Array;
    const g = this.sliceGeometry(axis, index);
    const out = new Uint8Array(g.rows * g.cols);
    let any = false;
    for (let r = 0; r < g.rows; r++)
      for (let c = 0; c < g.cols; c++)
        if (img[g.base + r * g.rowStride + c * g.colStride] === objId) {
          out[r * g.cols + c] = 1;
          any = true;
        }
    return any ? out : undefined;
  }

  /** The overlay's voxels as shown (x-fastest label ids; read, never written, by callers). */
  shownLabels(): Uint8Array | undefined {
    return this.labels?.img as Uint8Array | undefined;
  }

  /** Replaces the whole overlay with `labels` (x-fastest); returns the z-slices that differed (not yet redrawn). */
  replaceLabels(labels: Uint8Array): number[] {
    const img = this.labels?.img as Uint8Array | undefined;
    if (!img || img.length !== labels.length) return [];
    const changed = syncSlices(img, labels, this.dims[0], this.dims[1]);
    for (const z of changed) this.markDirty(2, z);
    return changed;
  }

  clearObject(objId: number): void {
    if (!this.labels) return;
    const img = this.labels.img as Uint8Array;
    for (let i = 0; i < img.length; i++) if (img[i] === objId) img[i] = 0;
    this.dirty = undefined;
  }

  clearAll(): void {
    (this.labels?.img as Uint8Array | undefined)?.fill(0);
    this.dirty = undefined;
  }

  /** Voxel count of one object (volume in mL = count x voxel volume / 1000). */
  objectStats(objId: number): { voxels: number; ml: number; first: number; last: number } {
    const img = (this.labels?.img as Uint8Array | undefined) ?? new Uint8Array();
    const n = this.dims[0] * this.dims[1];
    let voxels = 0,
      first = -1,
      last = -1;
    for (let i = 0; i < img.length; i++) {
      if (img[i] !== objId) continue;
      voxels++;
      const z = Math.floor(i / n);
      if (first < 0) first = z;
      last = z;
    }
    const p = this.image?.hdr?.pixDims ?? [1, 1, 1, 1];
    return { voxels, ml: (voxels * Math.abs(p[1]! * p[2]! * p[3]!)) / 1000, first, last };
  }

  refresh(): void {
    this.cancelScheduled();
    this.lastRefresh = performance.now();
    this.nv.updateGLVolume();
  }

  /**
   * Overlay redraws so far and their time on this thread (drawScene waits for the GL work:
   * gl.finish); how many re-uploaded the whole label layer and how many only changed planes.
   */
  readonly drawStats = { refreshes: 0, refreshMs: 0, fullUploads: 0, sliceUploads: 0 };

  /**
   * Planes written since the last overlay redraw, all along one voxel axis (0 x, 1 y, 2 z; -1 none
   * yet); undefined: anything may have changed (a whole-object edit, planes along two axes).
   */
  private dirty: { axis: number; planes: Set<number> } | undefined = { axis: -1, planes: new Set() };

  private markDirty(axis: number, index: number): void {
    const d = this.dirty;
    if (!d) return;
    if (d.axis !== axis && d.planes.size > 0) this.dirty = undefined;
    else {
      d.axis = axis;
      d.planes.add(index);
    }
  }

  /**
   * Re-uploads only the given planes (along voxel axis `axis`) of the label layer. NiiVue's
   * refreshLayers re-creates the overlay's RGBA texture and runs its reorienting shader over every
   * voxel (≈ 0.6 CPU-s per redraw on a CPU-rendered WebGL, while the model needs the same cores):
   * here the same call runs with the previous texture kept, the raw labels uploaded for those
   * planes only and the shader drawn where they land only, so the rest keeps what the last full
   * pass drew. NiiVue's output texture is the scan reoriented to RAS, drawn one RAS z layer at a
   * time into a viewport of RAS x × y texels. A plane whose voxel axis becomes RAS z (an axial
   * stack's slices) is whole layers: only those are drawn. One that becomes RAS x or y (the
   * coronal or sagittal planes of an axial stack, which propagation along y or x streams) is one
   * texel column or row of every layer: every layer is drawn with a scissor box around the
   * changed rows (the raw labels uploaded for the planes from the first to the last changed one,
   * as the scissor box spans them). NiiVue has no partial update, hence the scoped interception
   * of its GL calls (restored after); false (nothing done) where its internals differ.
   */
  private refreshSlices(dirty: { axis: number; planes: ReadonlySet<number> }): boolean {
    const nv = this.nv as unknown as {
      gl: WebGL2RenderingContext;
      overlayTexture: WebGLTexture | null;
      rgbaTex: (tex: WebGLTexture | null, unit: number, dims: number[], init?: boolean) => WebGLTexture;
    };
    const labels = this.labels!;
    const keep = nv.overlayTexture;
    const perm = labels.permRAS;
    const { axis, planes } = dirty;
    if (planes.size === 0) return keep !== null;
    const ras = perm ? Math.abs(perm[axis] ?? 0) - 1 : -1;
    if (!keep || !perm || !(ras >= 0 && ras <= 2)) return false;
    // NiiVue internals this relies on; another NiiVue version without them gets the whole re-upload.
    if (typeof nv.rgbaTex !== 'function' || typeof nv.gl?.texSubImage3D !== 'function') return false;
    const gl = nv.gl;
    const dims = this.dims;
    const n = dims[axis]!;
    const toRas = (i: number) => (perm[axis]! > 0 ? i : n - 1 - i);
    // Voxel boxes to upload ([lo, hi] per axis) and where the shader draws: RAS z layers, or a scissor box on every layer.
    const full = (a: number): [number, number] => [0, dims[a]! - 1];
    const boxAt = (lo: number, hi: number) => [0, 1, 2].map((a) => (a === axis ? [lo, hi] : full(a))) as [number, number][];
    let boxes: [number, number][][];
    let layers: Set<number> | undefined;
    let scissor: [number, number, number, number] | undefined;
    if (ras === 2) {
      boxes = [...planes].map((p) => boxAt(p, p));
      layers = new Set([...planes].map(toRas));
    } else {
      const lo = Math.min(...planes),
        hi = Math.max(...planes);
      boxes = [boxAt(lo, hi)];
      const a = Math.min(toRas(lo), toRas(hi)),
        w = hi - lo + 1;
      const other = dims[perm.findIndex((p) => Math.abs(p) === (ras === 0 ? 2 : 1))]!;
      scissor = ras === 0 ? [a, 0, w, other] : [0, a, other, w];
    }
    const img = labels.img as Uint8Array;
    const [nx, ny, nz] = dims;
    const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
    const owned = ['texSubImage3D', 'framebufferTextureLayer', 'drawArrays'].filter((k) => own(gl, k));
    const ownRgba = own(nv, 'rgbaTex');
    const rgbaTex = nv.rgbaTex;
    const { texSubImage3D, framebufferTextureLayer, drawArrays } = gl;
    let target = false,
      skipLayer = false;
    nv.rgbaTex = (tex, unit, dims, init) => {
      if (tex !== null || unit !== gl.TEXTURE2) return rgbaTex.call(nv, tex, unit, dims, init);
      gl.activeTexture(unit);
      gl.bindTexture(gl.TEXTURE_3D, keep);
      return keep;
    };
    gl.texSubImage3D = ((...a: unknown[]) => {
      // The raw labels' upload (x, y, z offsets 0, the whole native grid): only the changed boxes.
      if (a.length === 11 && a[5] === nx && a[6] === ny && a[7] === nz && a[10] === img) {
        for (const [[x0, x1], [y0, y1], [z0, z1]] of boxes) {
          const w = x1 - x0 + 1,
            h = y1 - y0 + 1,
            d = z1 - z0 + 1;
          let data: Uint8Array;
          if (w === nx && h === ny) data = img.subarray(z0 * nx * ny, (z1 + 1) * nx * ny);
          else {
            data = new Uint8Array(w * h * d);
            for (let z = z0, o = 0; z <= z1; z++)
              for (let y = y0; y <= y1; y++, o += w) data.set(img.subarray(x0 + nx * (y + ny * z), x1 + 1 + nx * (y + ny * z)), o);
          }
          texSubImage3D.call(gl, a[0] as number, 0, x0, y0, z0, w, h, d, a[8] as number, a[9] as number, data);
        }
        return;
      }
      return (texSubImage3D as (...b: unknown[]) => void).apply(gl, a);
    }) as typeof gl.texSubImage3D;
    gl.framebufferTextureLayer = (t, attachment, texture, level, layer) => {
      target = texture === keep;
      skipLayer = target && layers !== undefined && !layers.has(layer);
      framebufferTextureLayer.call(gl, t, attachment, texture, level, layer);
    };
    gl.drawArrays = (mode, first, count) => {
      if (skipLayer) return;
      if (!(target && scissor)) return drawArrays.call(gl, mode, first, count);
      const was = gl.isEnabled(gl.SCISSOR_TEST);
      const box = gl.getParameter(gl.SCISSOR_BOX) as Int32Array;
      gl.enable(gl.SCISSOR_TEST);
      gl.scissor(...scissor);
      drawArrays.call(gl, mode, first, count);
      gl.scissor(box[0]!, box[1]!, box[2]!, box[3]!);
      if (!was) gl.disable(gl.SCISSOR_TEST);
    };
    try {
      this.nv.refreshLayers(labels, 1);
    } finally {
      // Back to exactly what was there: the prototype's methods unless the instance had its own.
      if (ownRgba) nv.rgbaTex = rgbaTex;
      else delete (nv as { rgbaTex?: unknown }).rgbaTex;
      gl.texSubImage3D = texSubImage3D;
      gl.framebufferTextureLayer = framebufferTextureLayer;
      gl.drawArrays = drawArrays;
      for (const k of ['texSubImage3D', 'framebufferTextureLayer', 'drawArrays'])
        if (!owned.includes(k)) delete (gl as unknown as Record<string, unknown>)[k];
    }
    this.drawStats.sliceUploads++;
    return true;
  }

  private refreshFrame: number | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  private cancelScheduled(): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    if (this.refreshFrame !== undefined && this.refreshFrame >= 0) cancelAnimationFrame(this.refreshFrame);
    this.refreshTimer = undefined;
    this.refreshFrame = undefined;
  }

  /**
   * The overlay redrawn now (a scheduled redraw is dropped): only the label layer is re-uploaded,
   * whole (so what it shows after this call never depends on the partial path), or with
   * `partial` only the planes written since the last redraw (as streamed redraws do).
   */
  refreshOverlayNow(partial = false): void {
    this.cancelScheduled();
    this.lastRefresh = performance.now();
    this.refreshOverlay(partial);
  }

  /**
   * Coalesces overlay updates: one upload + redraw per animation frame however many slices
   * changed in it, and at most one per `minIntervalMs` (propagation streams a mask per slice; each
   * overlay refresh re-uploads the whole label volume and redraws every tile — on a CPU-rendered
   * WebGL that competes with the model for the same cores). With `maxShare`, the interval also
   * grows with what the last redraw cost, so redraws take at most that share of the time
   * (e.g. 0.05: a 200 ms redraw waits 4 s; with a GPU, a 3 ms one waits only `minIntervalMs`).
   */
  scheduleRefresh(minIntervalMs = 0, maxShare = 1): void {
    if (this.refreshFrame !== undefined) return;
    const interval = Math.max(minIntervalMs, this.lastRefreshCost / maxShare);
    const wait = Math.max(0, this.lastRefresh + interval - performance.now());
    const go = () => {
      this.refreshFrame = requestAnimationFrame(() => {
        this.refreshFrame = undefined;
        this.lastRefresh = performance.now();
        this.refreshOverlay(true);
      });
    };
    if (wait === 0) go();
    else {
      // Holds the slot (no second timer) until the frame is drawn.
      this.refreshFrame = -1;
      this.refreshTimer = setTimeout(() => {
        this.refreshTimer = undefined;
        this.refreshFrame = undefined;
        go();
      }, wait);
    }
  }

  /** What the last overlay refresh took on this thread (drawScene ends with gl.finish: the GL work included). */
  private lastRefreshCost = 0;
  private lastRefresh = 0;

  /**
   * Leaves the 3D render tile out of the redraws until the returned release is called (each hold
   * its own; the tile comes back, drawn once, when the last one is released). Held while a
   * propagation streams masks, while a box, line or stroke is dragged (NiiVue redraws on every
   * mouse move) and until a prompt's mask is on the 2D planes: in a CPU-rendered WebGL (no GPU)
   * one 3D render costs seconds, as much as a model run, and it delayed everything queued behind it.
   */
  hold3d(): () => void {
    if (this.holds++ === 0) this.nv.opts.multiplanarShowRender = SHOW_RENDER.NEVER;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds > 0) return;
      this.nv.opts.multiplanarShowRender = SHOW_RENDER.ALWAYS;
      this.nv.drawScene();
    };
  }

  private holds = 0;

  private readonly pixel = new Uint8Array(4);

  /**
   * Returns once the GL work issued so far is done. NiiVue's drawScene ends with gl.finish, but
   * Chromium does not wait there (a 3D render measured 1 ms, then held the next fetch 22 s while
   * SwiftShader drew it); reading back one pixel does wait.
   */
  waitDrawn(): void {
    const gl = this.nv.gl;
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, this.pixel);
  }

  /**
   * Re-uploads only the label overlay and redraws: updateGLVolume would also re-upload and
   * re-colour the scan itself (layer 0), which has not changed. The overlay is NiiVue's layer 1
   * (the only overlay), rebuilt whole by refreshLayers.
   */
  private refreshOverlay(partial: boolean): void {
    const t0 = performance.now();
    const slices = this.dirty;
    this.dirty = { axis: -1, planes: new Set() };
    if (!this.labels || this.nv.volumes[1] !== this.labels) this.nv.updateGLVolume();
    else {
      if (!(partial && slices && this.refreshSlices(slices))) {
        this.nv.refreshLayers(this.labels, 1);
        this.drawStats.fullUploads++;
      }
      this.nv.drawScene();
    }
    this.waitDrawn();
    this.lastRefreshCost = performance.now() - t0;
    this.drawStats.refreshes++;
    this.drawStats.refreshMs += this.lastRefreshCost;
  }

  async screenshotPng(): Promise<Blob> {
    this.nv.drawScene();
    return new Promise((resolve, reject) =>
      this.canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the canvas gave no image'))), 'image/png'),
    );
  }
}
