import { cssColour } from './colours.js';
import type { SavedObject } from './savedState.js';

export interface ObjectRow extends SavedObject {
  voxels: number;
  ml: number;
  first: number;
  last: number;
}

export interface ObjectListEvents {
  select(objId: number): void;
  toggle(objId: number): void;
  remove(objId: number): void;
  rename(objId: number, name: string): void;
}

/**
 * The object panel: colour, name (editable), hide, delete, volume in mL and slice range; on a
 * single picture (a photo, one frame: its 1 mm "spacing" is nominal) the area in pixels instead;
 * `statsText` words the stats line otherwise (video mode counts frames, not mL).
 */
export function renderObjects(
  ul: HTMLUListElement,
  rows: ObjectRow[],
  active: number,
  ev: ObjectListEvents,
  picture = false,
  statsText?: (o: ObjectRow) => string,
): void {
  ul.replaceChildren(
    ...rows.map((o) => {
      const li = document.createElement('li');
      li.dataset.objId = String(o.objId);
      if (o.objId === active) li.className = 'active';
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = cssColour(o.objId);
      const name = document.createElement('span');
      name.textContent = o.name;
      name.title = 'double-click to rename';
      name.addEventListener('dblclick', () => {
        const n = prompt('Object name', o.name);
        if (n && n.trim()) ev.rename(o.objId, n.trim());
      });
      const hide = document.createElement('button');
      hide.textContent = o.hidden ? 'show' : 'hide';
      hide.addEventListener('click', (e) => {
        e.stopPropagation();
        ev.toggle(o.objId);
      });
      const del = document.createElement('button');
      del.textContent = '✕';
      del.title = 'delete the object';
      del.addEventListener('click', (e) => {
        e.stopPropagation();
        ev.remove(o.objId);
      });
      const stats = document.createElement('span');
      stats.className = 'stats';
      stats.textContent = statsText
        ? statsText(o)
        : o.first < 0
          ? 'no mask yet'
          : picture
            ? `${o.voxels} px`
            : `${o.ml.toFixed(2)} mL · ${o.first === o.last ? `slice ${o.first}` : `slices ${o.first}–${o.last}`}`;
      li.append(sw, name, hide, del, stats);
      li.addEventListener('click', () => ev.select(o.objId));
      return li;
    }),
  );
}
