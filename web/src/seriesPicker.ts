/**
 * Several image series in one folder or zip (a study export): the person picks the one to open,
 * as `medsam2 segment FOLDER --series UID` does on the command line. A modal <dialog> with one
 * button per series (largest first); Cancel or Esc opens nothing.
 */
import { describeSeries, type DicomSeriesGroup } from './dicomFiles.js';

/** The series picked, or undefined when the person cancelled. */
export function pickSeries(groups: DicomSeriesGroup[], where: string): Promise<DicomSeriesGroup | undefined> {
  return new Promise((resolve) => {
    const dialog = document.createElement('dialog');
    dialog.id = 'series-picker';
    dialog.className = 'help-card';
    const title = document.createElement('h2');
    title.textContent = `${where} holds ${groups.length} series: open which one?`;
    const list = document.createElement('div');
    list.style.display = 'grid';
    list.style.gap = '6px';
    let picked: DicomSeriesGroup | undefined;
    groups.forEach((g, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.series = String(i);
      b.textContent = describeSeries(g);
      b.title = g.uid || 'no SeriesInstanceUID';
      b.addEventListener('click', () => {
        picked = g;
        dialog.close();
      });
      list.append(b);
    });
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.id = 'series-cancel';
    cancel.textContent = 'Cancel';
    cancel.style.marginTop = '10px';
    cancel.addEventListener('click', () => dialog.close());
    dialog.append(title, list, cancel);
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(picked);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
