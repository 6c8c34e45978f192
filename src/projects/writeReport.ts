import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { writeFileAtomic } from '../io/atomicWrite.js';
import { toCsv, type ProjectReport } from './report.js';
import { reportHtml } from './reportHtml.js';

export const REPORT_FILES = {
  json: 'report.json',
  cases: 'cases.csv',
  groups: 'groups.csv',
  rounds: 'rounds.csv',
  html: 'report.html',
} as const;

/** Writes the report files into a new or empty folder (a report is never written over another). */
export function writeProjectReport(outDir: string, r: ProjectReport): string[] {
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new MedsamError(`${outDir} is not empty`, 'give a new folder for each report (reports are never overwritten)');
  mkdirSync(outDir, { recursive: true });
  const enc = (s: string) => new TextEncoder().encode(s);
  const files: [string, string][] = [
    [REPORT_FILES.json, JSON.stringify(r, null, 2) + '\n'],
    [
      REPORT_FILES.cases,
      toCsv(r.cases, [
        'round',
        'case',
        'mode',
        'annotators',
        'reviewer',
        'activeSeconds',
        'interactions',
        'slicesTouched',
        'versions',
        'acceptedVersion',
        'preDsc',
        'preNsd',
        'volumeChangePct',
      ]),
    ],
    [
      REPORT_FILES.groups,
      toCsv(r.groups, [
        'round',
        'kind',
        'group',
        'cases',
        'medianActiveSeconds',
        'medianInteractions',
        'medianSlicesTouched',
        'medianPreDsc',
      ]),
    ],
    [
      REPORT_FILES.rounds,
      toCsv(r.rounds, [
        'round',
        'model',
        'assistedCases',
        'manualCases',
        'medianAssistedSeconds',
        'medianManualSeconds',
        'manualBaseline',
        'costSaved',
        'medianPreDsc',
      ]),
    ],
    [REPORT_FILES.html, reportHtml(r)],
  ];
  for (const [name, text] of files) writeFileAtomic(join(outDir, name), enc(text));
  return files.map(([n]) => join(outDir, n));
}
