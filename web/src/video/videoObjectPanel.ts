/**
 * Video mode's object panel: the volume app's object list (objectList.ts: colour, name renamed by
 * double-click, hide, delete) in its own side-panel section, shown only in video mode, with each
 * object's stats as frames (a video frame's 1 mm "spacing" is nominal, so no mL).
 */
import { type ObjectListEvents, type ObjectRow, renderObjects } from '../objectList.js';

export class VideoObjectPanel {
  private readonly ul: HTMLUListElement;

  constructor(
    private readonly events: ObjectListEvents,
    add: () => void,
  ) {
    const section = document.createElement('section');
    section.id = 'video-objects-section';
    const title = document.createElement('h2');
    title.textContent = 'Objects ';
    const plus = document.createElement('button');
    plus.id = 'video-objects-add';
    plus.title = 'New object (A)';
    plus.textContent = '+ add';
    plus.addEventListener('click', add);
    title.append(plus);
    this.ul = document.createElement('ul');
    this.ul.id = 'video-objects';
    section.append(title, this.ul);
    // Beside the volume app's object section (which video mode hides).
    const volumeSection = document.getElementById('objects')?.closest('section');
    if (volumeSection) volumeSection.after(section);
    else document.querySelector('.panel')?.append(section);
  }

  render(rows: ObjectRow[], active: number): void {
    renderObjects(this.ul, rows, active, this.events, false, (o) =>
      o.first < 0
        ? 'no mask yet'
        : `${o.voxels} frame${o.voxels === 1 ? '' : 's'} · ${o.first === o.last ? `frame ${o.first}` : `frames ${o.first}–${o.last}`}`,
    );
  }
}
