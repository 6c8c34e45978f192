/**
 * Keyboard shortcuts, declared once: the key handler and the help overlay both read this table.
 * Volume mode and video mode each install their own table; `active` says which one listens now.
 */
export interface Shortcut {
  keys: string[];
  label: string;
  run(): void;
}

export function describeKey(k: string): string {
  if (k === ' ') return 'Space';
  return k.replace('ctrl+', 'Ctrl+').replace('shift+', 'Shift+');
}

function keyOf(e: KeyboardEvent): string {
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  // Shift counts for named keys and with Ctrl (Ctrl+Shift+Z); for a printed character it is already in the key.
  const ctrl = e.ctrlKey || e.metaKey;
  return `${ctrl ? 'ctrl+' : ''}${e.shiftKey && (k.length > 1 || ctrl) ? 'shift+' : ''}${k}`;
}

export function installShortcuts(list: Shortcut[], table: HTMLTableElement, opts: { active?: () => boolean } = {}): void {
  table.replaceChildren(
    ...list.map((s) => {
      const tr = document.createElement('tr');
      const keys = document.createElement('td');
      for (const k of s.keys) {
        const kbd = document.createElement('kbd');
        kbd.textContent = describeKey(k);
        keys.append(kbd, ' ');
      }
      const what = document.createElement('td');
      what.textContent = s.label;
      tr.append(keys, what);
      return tr;
    }),
  );
  window.addEventListener('keydown', (e) => {
    if (opts.active && !opts.active()) return;
    const t = e.target as HTMLElement | null;
    const k = keyOf(e);
    // Text fields keep every key. A select keeps its own keys (arrows, letters, Enter) but not
    // Ctrl ones it has no use for: after picking the export format, Ctrl+S opened the browser's
    // "Save page" and Ctrl+Z did nothing.
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA') && (t as HTMLInputElement).type !== 'range';
    if (typing || (t?.tagName === 'SELECT' && !k.startsWith('ctrl+'))) return;
    const s = list.find((x) => x.keys.includes(k));
    if (!s) return;
    e.preventDefault();
    s.run();
  });
}
