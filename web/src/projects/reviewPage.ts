/**
 * #/p/NAME/review — the cases waiting for review; #/p/NAME/review/CASE — one case: its versions
 * over the image (version picker), a diff overlay between two versions (only in A red, only in B
 * blue, in both yellow: the viewer's object colours 1-3) with the server's DSC / volume change,
 * Accept / Return with a comment, and Export of version B (NIfTI, NRRD, npz; DICOM SEG with the
 * project's labels when the case's image is a DICOM series), and Send B to PACS for such a case
 * (the server's PACS; the sends recorded on the case listed under it).
 */
import { cssColour } from '../colours.js';
import { Viewer } from '../viewer.js';
import { busiestSlice, DIFF_BOTH, DIFF_ONLY_A, DIFF_ONLY_B, type DiffCounts, diffCodes, sliceMaskOf } from './diffOverlay.js';
import { downloadBlob } from '../download.js';
import { h, table, timeAgo } from './dom.js';
import { labelMapFromNpz } from './labelMapFile.js';
import type { PageContext } from './pageContext.js';
import { type CaseDetail, type DiffView, isDicomCase, type LabelMapFormat, type PacsSendView, pacsSendBlocker } from './projectApi.js';
import { STATUS_LABEL } from './progressModel.js';
import { routeHash } from './router.js';

export async function renderReviewList(ctx: PageContext, project: string): Promise<void> {
  const cases = await ctx.api.cases(project);
  const submitted = cases.filter((c) => c.status === 'submitted');
  const others = cases.filter((c) => c.status !== 'submitted');
  const link = (name: string, label: string) => h('a', { href: routeHash({ page: 'review', project, caseName: name }) }, label);
  ctx.root.replaceChildren(
    h('h1', {}, `Review — ${project}`),
    h('h2', {}, `Waiting for review (${submitted.length})`),
    submitted.length
      ? table(
          ['case', 'by', 'round', 'version', ''],
          submitted.map((c) => [
            c.name,
            c.assignee ?? String(c.submittedBy ?? '—'),
            c.round,
            `v${c.latestVersion}`,
            link(c.name, 'review'),
          ]),
          {
            id: 'to-review',
          },
        )
      : h('p', { class: 'muted' }, 'nothing is waiting for review'),
    h('h2', {}, 'Other cases'),
    table(
      ['case', 'status', 'version', 'review comment', ''],
      others.map((c) => [
        c.name,
        STATUS_LABEL[c.status] ?? c.status,
        c.latestVersion >= 0 ? `v${c.latestVersion}` : '—',
        c.reviewComment ?? '',
        c.latestVersion >= 0 ? link(c.name, 'versions') : '',
      ]),
      {
        id: 'other-cases',
      },
    ),
  );
}

function fmt(n: unknown, digits: number, unit = ''): string {
  return typeof n === 'number' && Number.isFinite(n) ? `${n.toFixed(digits)}${unit}` : '—';
}

/** The server's diff as text lines: DSC, volume change in mL and %. */
function diffLines(d: DiffView): string[] {
  const ml =
    typeof d.volumeChangeMl === 'number'
      ? d.volumeChangeMl
      : typeof d.mlA === 'number' && typeof d.mlB === 'number'
        ? d.mlB - d.mlA
        : undefined;
  return [
    `DSC ${fmt(d.dsc, 3)}`,
    `volume change ${ml !== undefined && ml >= 0 ? '+' : ''}${fmt(ml, 2, ' mL')}`,
    ...(typeof d.volumeChangePct === 'number' ? [`(${d.volumeChangePct >= 0 ? '+' : ''}${d.volumeChangePct.toFixed(1)} %)`] : []),
  ];
}

export async function renderReview(ctx: PageContext, project: string, caseName: string, stale: () => boolean): Promise<() => void> {
  const detail: CaseDetail = await ctx.api.caseDetail(project, caseName);
  const c = detail.case;
  const versions = [...detail.versions].sort((a, b) => a.version - b.version);
  if (versions.length === 0) {
    ctx.root.replaceChildren(h('h1', {}, `Case ${caseName}`), h('p', { class: 'muted' }, 'this case has no label version yet'));
    return () => {};
  }
  const vol = await ctx.api.volume(project, caseName);
  if (stale()) return () => {};

  // ---- layout ----
  const canvas = h('canvas', { id: 'gl' });
  const slider = h('input', { id: 'slice', type: 'range', min: 0, max: 0, value: 0, 'aria-label': 'slice' });
  const sliceLabel = h('span', { id: 'slice-label' }, 'slice –');
  const option = (v: number) => h('option', { value: v }, `v${v} — ${versions.find((x) => x.version === v)!.author}`);
  const pickA = h('select', { id: 'version-a', 'aria-label': 'version A' }, ...versions.map((v) => option(v.version)));
  const pickB = h('select', { id: 'version-b', 'aria-label': 'version B' }, ...versions.map((v) => option(v.version)));
  pickA.value = String(versions[0]!.version);
  pickB.value = String(versions.at(-1)!.version);
  const diffOn = h('input', { id: 'diff-on', type: 'checkbox' });
  diffOn.checked = versions.length > 1;
  const opacity = h('input', {
    id: 'review-opacity',
    type: 'range',
    min: 0,
    max: 1,
    step: 0.05,
    value: 0.7,
    'aria-label': 'overlay opacity',
  });
  const stats = h('div', { id: 'diff-stats' });
  const legend = h(
    'div',
    { class: 'legend', id: 'diff-legend' },
    ...[
      [DIFF_ONLY_A, 'only in A'],
      [DIFF_ONLY_B, 'only in B'],
      [DIFF_BOTH, 'in both'],
    ].map(([code, label]) => h('span', {}, h('span', { class: 'chip', style: `background:${cssColour(code as number)}` }), String(label))),
  );
  const comment = h('textarea', { id: 'review-comment', rows: 3, placeholder: 'What to fix (needed to return the case)' });
  const accept = h('button', { id: 'accept', class: 'active' }, 'Accept');
  const ret = h('button', { id: 'return' }, 'Return with comment');
  const verdict = h('div', { id: 'verdict', class: 'muted' });
  const canReview = c.status === 'submitted';
  accept.disabled = ret.disabled = !canReview;
  const caseInfo = h('dl', { id: 'case-info' });
  const infoRows: [string, string][] = [
    ['status', STATUS_LABEL[c.status] ?? c.status],
    ['assignee', c.assignee ?? '—'],
    ['submitted by', typeof c.submittedBy === 'string' ? c.submittedBy : '—'],
    ['round', String(c.round)],
    ['mode', c.mode],
    ['latest', `v${c.latestVersion}`],
    ['comment', c.reviewComment ?? '—'],
  ];
  caseInfo.append(...infoRows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const exportFormat = h(
    'select',
    { id: 'review-export-format', 'aria-label': 'export format' },
    h('option', { value: 'nifti' }, 'NIfTI'),
    h('option', { value: 'nrrd' }, 'NRRD'),
    h('option', { value: 'npz' }, 'npz'),
    isDicomCase(c) ? h('option', { value: 'dicom-seg' }, 'DICOM SEG') : null,
  );
  if (isDicomCase(c)) exportFormat.value = 'dicom-seg';
  const exportButton = h('button', { id: 'review-export', title: 'Download version B' }, 'Export B');
  exportButton.addEventListener('click', async () => {
    exportButton.disabled = true;
    try {
      const f = await ctx.api.labelMapFile(project, caseName, Number(pickB.value), exportFormat.value as LabelMapFormat);
      downloadBlob(f.blob, f.fileName);
      ctx.info(`exported ${f.fileName}`);
    } catch (e) {
      ctx.fail(e, 'exporting');
    } finally {
      exportButton.disabled = false;
    }
  });

  // Send to PACS: a DICOM case's version B as a SEG at the server's PACS; disabled, with why, otherwise.
  const pacsButton = h('button', { id: 'review-send-pacs' }, 'Send B to PACS');
  const blocker = pacsSendBlocker(c, detail.pacs);
  pacsButton.disabled = blocker !== null;
  pacsButton.title = blocker ?? `Store version B as a DICOM SEG in its study at ${detail.pacs}`;
  const sendLine = (x: PacsSendView) =>
    h(
      'li',
      { title: `series ${x.seriesInstanceUid} at ${x.pacs}` },
      `v${x.version} by ${x.sentBy}, ${timeAgo(x.sentAt)} — SOP ${x.sopInstanceUid}`,
    );
  const sends = h('ul', { id: 'pacs-sends', class: 'muted' }, ...(detail.pacsSends ?? []).map(sendLine));
  pacsButton.addEventListener('click', async () => {
    pacsButton.disabled = true;
    try {
      const x = await ctx.api.sendToPacs(project, caseName, Number(pickB.value));
      sends.append(sendLine(x));
      ctx.info(`sent v${x.version} to the PACS at ${x.pacs} as SEG ${x.sopInstanceUid}`);
    } catch (e) {
      ctx.fail(e, 'sending to the PACS');
    } finally {
      pacsButton.disabled = blocker !== null;
    }
  });

  ctx.root.replaceChildren(
    h('h1', {}, `Review ${caseName}`),
    h(
      'div',
      { class: 'review-layout' },
      h(
        'aside',
        { class: 'side' },
        caseInfo,
        h('h2', {}, 'Versions'),
        table(
          ['v', 'author', 'kind', 'time', 'voxels'],
          versions.map((v) => [`v${v.version}`, v.author, v.authorKind, timeAgo(v.createdAt), v.voxels]),
          { id: 'versions' },
        ),
        h('h2', {}, 'Compare'),
        h('div', { class: 'row' }, 'A', pickA, 'B', pickB),
        h('label', { class: 'row' }, diffOn, 'diff overlay (else: B alone)'),
        legend,
        stats,
        h('label', { class: 'row' }, 'Opacity', opacity),
        h('h2', {}, 'Export'),
        h('div', { class: 'row' }, exportFormat, exportButton),
        h('div', { class: 'row' }, pacsButton),
        sends,
        h('h2', {}, 'Verdict'),
        comment,
        h('div', { class: 'row' }, accept, ret),
        verdict,
      ),
      h('div', { class: 'stage' }, h('div', { class: 'canvas-wrap' }, canvas), h('div', { class: 'slicebar' }, slider, sliceLabel)),
    ),
  );

  // ---- the image ----
  const viewer = new Viewer(canvas);
  await viewer.attach();
  await viewer.show(vol.bytes, vol.fileName);
  // The case page's "auto" window (soft tissue on a CT in HU), not NiiVue's 2-98 % range of a mostly-air CT.
  viewer.setWindow('auto');
  viewer.setLayout('axial');
  // No crosshair over the diff: its cyan would read as "only in B".
  viewer.nv.setCrosshairWidth(0);
  viewer.setOpacity(Number(opacity.value));
  slider.max = String(viewer.dims[2] - 1);
  viewer.onSliceChange = (z) => {
    slider.value = String(z);
    sliceLabel.textContent = `slice ${z} / ${viewer.dims[2] - 1}`;
  };
  slider.addEventListener('input', () => viewer.goToSlice(Number(slider.value)));
  opacity.addEventListener('input', () => viewer.setOpacity(Number(opacity.value)));

  const cache = new Map<number, Promise<Uint8Array>>();
  const labelsOf = (v: number): Promise<Uint8Array> => {
    let p = cache.get(v);
    if (!p) {
      p = ctx.api.labelMapNpz(project, caseName, v).then((bytes) => {
        const m = labelMapFromNpz(bytes);
        if (m.dims.join() !== viewer.dims.join())
          throw new Error(`version ${v}'s label map is ${m.dims.join('×')}, the image ${viewer.dims.join('×')}`);
        return m.labels;
      });
      cache.set(v, p);
    }
    return p;
  };

  /** Writes a whole label volume (values = viewer object ids) into the overlay. */
  const showVolume = (vol: Uint8Array, values: number[]) => {
    viewer.clearAll();
    for (let z = 0; z < viewer.dims[2]; z++) for (const v of values) viewer.setSliceMask(v, z, sliceMaskOf(vol, viewer.dims, z, v));
    viewer.refresh();
  };

  let shown = 0;
  const update = async () => {
    const mine = ++shown;
    const a = Number(pickA.value);
    const b = Number(pickB.value);
    document.body.dataset.overlay = 'loading';
    try {
      if (diffOn.checked) {
        const [la, lb, d] = await Promise.all([
          labelsOf(a),
          labelsOf(b),
          a === b ? Promise.resolve(undefined) : ctx.api.diff(project, caseName, a, b),
        ]);
        if (mine !== shown || stale()) return;
        const { codes, counts } = diffCodes(la, lb);
        showVolume(codes, [DIFF_ONLY_A, DIFF_ONLY_B, DIFF_BOTH]);
        const z = busiestSlice(codes, viewer.dims, [DIFF_ONLY_A, DIFF_ONLY_B]);
        viewer.goToSlice(z >= 0 ? z : busiestSlice(codes, viewer.dims, [DIFF_BOTH]));
        const voxels = (n: keyof DiffCounts) => counts[n].toLocaleString();
        stats.replaceChildren(
          h('div', { id: 'diff-server' }, d ? `v${a} → v${b}: ${diffLines(d).join(' ')}` : 'same version on both sides'),
          h('div', { class: 'muted' }, `voxels: only A ${voxels('onlyA')}, only B ${voxels('onlyB')}, both ${voxels('both')}`),
        );
        (window as unknown as { medsam2Review: unknown }).medsam2Review = { viewer, counts, a, b, diff: d };
      } else {
        const lb = await labelsOf(b);
        if (mine !== shown || stale()) return;
        const values = [...new Set(lb)].filter((v) => v > 0).sort((x, y) => x - y);
        for (const v of values) viewer.coverLabel(v);
        showVolume(lb, values);
        viewer.goToSlice(busiestSlice(lb, viewer.dims, values));
        stats.replaceChildren(h('div', {}, `v${b}: ${versions.find((x) => x.version === b)?.voxels ?? '?'} voxels`));
      }
      document.body.dataset.overlay = diffOn.checked ? `diff:${a}:${b}` : `version:${b}`;
    } catch (e) {
      document.body.dataset.overlay = 'error';
      ctx.fail(e, 'loading the versions');
    }
  };
  for (const el of [pickA, pickB, diffOn]) el.addEventListener('change', () => void update());
  await update();

  const decide = async (v: 'accept' | 'return') => {
    const text = comment.value.trim();
    if (v === 'return' && !text) {
      ctx.fail(new Error('returning a case needs a comment saying what to fix'), 'returning');
      comment.focus();
      return;
    }
    accept.disabled = ret.disabled = true;
    try {
      const r = await ctx.api.review(project, caseName, v, v === 'return' ? text : undefined);
      verdict.textContent =
        v === 'accept' ? `accepted (${r.status ?? 'accepted'})` : `returned to ${c.assignee ?? 'the annotator'} with your comment`;
      verdict.dataset.verdict = v;
      ctx.info(v === 'accept' ? `case ${caseName} accepted` : `case ${caseName} returned with a comment`);
    } catch (e) {
      accept.disabled = ret.disabled = false;
      ctx.fail(e, v === 'accept' ? 'accepting' : 'returning');
    }
  };
  accept.addEventListener('click', () => void decide('accept'));
  ret.addEventListener('click', () => void decide('return'));
  return () => {
    shown++;
  };
}
