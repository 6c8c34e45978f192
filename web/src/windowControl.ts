/**
 * The Window list and the W/L in the view's corner, kept equal to what the viewer shows: a
 * Navigate drag makes the list read "custom (W … L …)" (it kept reading "auto"), and picking
 * "custom" again brings the dragged W/L back, as Slicer's and OHIF's window lists do.
 */
import type { Viewer } from './viewer.js';
import { describeWindow, type WindowLevel } from './windowPresets.js';

export class WindowControl {
  /** The last dragged (or restored) custom window. */
  custom?: WindowLevel;

  constructor(
    private readonly select: HTMLSelectElement,
    private readonly readout: HTMLElement,
    private readonly viewer: Viewer,
    /** Told after every change (the app saves the view for a reload). */
    private readonly changed: () => void,
  ) {
    viewer.onWindowChange = (name, w) => this.show(name, w);
    select.addEventListener('change', () => this.apply());
  }

  /** Shows the scan with the window the list names (on opening a scan, after a pick). */
  apply(): void {
    this.viewer.setWindow(this.select.value, this.custom);
  }

  /**
   * Before another scan is shown: a dragged W/L belonged to the last one (a CT's HU window on a
   * 0–255 .npz is a white page), so "custom" goes back to "auto"; a preset picked stays.
   */
  newScan(): void {
    this.custom = undefined;
    if (this.select.value === 'custom') this.select.value = 'auto';
    const option = this.select.querySelector<HTMLOptionElement>('option[value="custom"]');
    if (option) {
      option.hidden = true;
      option.textContent = 'custom';
    }
  }

  /** Shows `name` (with `custom`'s W/L when it is 'custom'): after a reload. */
  restore(name: string, custom?: WindowLevel): void {
    if (custom) this.custom = custom;
    this.select.value = name === 'custom' && !this.custom ? 'auto' : name;
    if (this.select.value === '') this.select.value = 'auto';
    this.apply();
  }

  private show(name: string, w: WindowLevel): void {
    if (name === 'custom') this.custom = { ...w };
    const option = this.select.querySelector<HTMLOptionElement>('option[value="custom"]');
    if (option) {
      option.hidden = !this.custom;
      option.textContent = this.custom ? `custom (${describeWindow(this.custom)})` : 'custom';
    }
    this.select.value = name;
    this.readout.textContent = describeWindow(w);
    this.readout.hidden = false;
    this.changed();
  }
}
