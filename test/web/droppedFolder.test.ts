/**
 * A folder dropped on the view (web/src/droppedFiles.ts walks it through the entries API). Playwright
 * cannot drop a folder, so the test dispatches a real `drop` event on the app's drop target whose
 * DataTransfer items hand out a directory-entry tree built in the page from the shared CT series'
 * files, with Chromium's contract: readEntries returns at most 100 entries a call, then an empty
 * batch. The tree nests the series two folders deep, split between a folder and its sub-folder,
 * behind 110 junk files (and a .DS_Store) in the same folder: a walk that stops after the first
 * batch finds no DICOM, one that skips sub-folders finds half the slices. The app must open the
 * series with the grid and voxels the server reads from the series folder (as the zip path does
 * in dicomOpen.test.ts).
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readVolume } from '../../src/io/readVolume.js';
import { closeClean } from './appDriver.js';
import { ROOT, serverAndBrowser, shot, skipReason, waitStatus } from './browser.js';
import { assertSameVolume, drawnVolume } from './drawnVolume.js';

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any, document: any, DataTransfer: any, File: any, DragEvent: any, atob: any, setTimeout: any;

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const skip = skipReason() || (!existsSync(SERIES) && `needs ../shared/data/dicom (${SERIES})`);
if (skip) process.stdout.write(`# skipping the dropped-folder browser test: ${skip}\n`);

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-dropfolder-'));
const e2e = serverAndBrowser(skip, { tearDown: () => rmSync(tmp, { recursive: true, force: true }) });

/** Junk files beside the series' first half: with them that folder holds 121 entries (batches of 100 and 21). */
const JUNK = 110;

test('a dropped folder: nested folders, junk and >100 entries in a folder walked; the series opens on the grid the server reads', {
  skip,
  timeout: 600_000,
}, async () => {
  const series = await readVolume(SERIES);
  const names = readdirSync(SERIES).sort();
  const dcm = names.map((n) => ({ name: n, b64: readFileSync(join(SERIES, n)).toString('base64') }));
  const { page, errors } = await e2e.open();
  const walked = await page.evaluate(
    ({ dcm, junk }) => {
      // Method shorthand only: tsx names arrow functions held in variables with a helper the page lacks.
      const stats = { readCalls: 0, largestBatch: 0 };
      const make = {
        bytes(b64: string): Uint8Array {
          return Uint8Array.from(atob(b64) as string, (c: string) => c.charCodeAt(0));
        },
        file(name: string, data: Uint8Array | string) {
          return {
            isFile: true,
            isDirectory: false,
            name,
            file(ok: (f: unknown) => void) {
              setTimeout(() => ok(new File([data], name)));
            },
          };
        },
        // Chromium's DirectoryReader: at most 100 entries a call, asynchronously; an empty batch at the end.
        dir(name: string, kids: unknown[]) {
          return {
            isFile: false,
            isDirectory: true,
            name,
            createReader() {
              let at = 0;
              return {
                readEntries(ok: (batch: unknown[]) => void) {
                  stats.readCalls++;
                  const batch = kids.slice(at, at + 100);
                  at += batch.length;
                  stats.largestBatch = Math.max(stats.largestBatch, batch.length);
                  setTimeout(() => ok(batch));
                },
              };
            },
          };
        },
      };
      const half = dcm.length >> 1;
      const files = dcm.map((f: { name: string; b64: string }) => make.file(f.name, make.bytes(f.b64)));
      const notes = Array.from({ length: junk }, (_, i) => make.file(`note-${String(i).padStart(3, '0')}.txt`, `not DICOM ${i}`));
      // export/.DS_Store, export/ct/{110 notes, first half of the series, deeper/{second half}}
      const root = make.dir('export', [
        make.file('.DS_Store', new Uint8Array(4096).fill(1)),
        make.dir('ct', [...notes, ...files.slice(0, half), make.dir('deeper', files.slice(half))]),
      ]);
      const dt = new DataTransfer();
      Object.defineProperty(dt, 'items', {
        value: [
          {
            kind: 'file',
            type: '',
            webkitGetAsEntry() {
              return root;
            },
          },
        ],
      });
      document.getElementById('status').textContent = '…';
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      window.__dropStats = stats;
      return { entries: junk + dcm.length + 3 };
    },
    { dcm, junk: JUNK },
  );
  await waitStatus(page, /draw a box/, 400_000);
  const stats = (await page.evaluate(() => window.__dropStats)) as { readCalls: number; largestBatch: number };
  process.stdout.write(
    `# dropped folder: ${walked.entries} entries, readEntries called ${stats.readCalls} times, largest batch ${stats.largestBatch}\n`,
  );
  assert.equal(stats.largestBatch, 100, 'a folder was handed out in batches of 100');
  assert.match((await page.textContent('#info')) ?? '', /export.*dicom-zip.*512 × 512 × 20/s);
  assertSameVolume((await drawnVolume(page, e2e.server.url, tmp, 'drawn-dropped-folder')).volume, series, 'the dropped folder as drawn');
  await shot(page, 'dicom-05-dropped-folder');
  await closeClean(page, errors);
});
