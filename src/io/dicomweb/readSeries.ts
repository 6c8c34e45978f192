/** A DICOMweb series URL → Volume (WADO-RS retrieve, then the byte-level series reader). Browser-safe. */
import { MedsamError } from '../../common/errors.js';
import { readDicomSeries, type DicomSeriesOptions } from '../dicom/series.js';
import type { Volume } from '../volume.js';
import { jsonValue, parseDicomwebUrl, retrieveSeries, searchSeries, type DicomwebOptions } from './client.js';

export async function readDicomwebSeries(url: string, opts: DicomSeriesOptions & DicomwebOptions = {}): Promise<Volume> {
  const t = parseDicomwebUrl(url);
  if (!t.study)
    throw new MedsamError(
      `${url} does not name a study and series`,
      'use dicomweb://host:port/dicom-web/studies/<StudyUID>/series/<SeriesUID>',
    );
  if (!t.series) {
    // Name the study's image series (QIDO-RS) so the user can pick one.
    const found = (await searchSeries(t.base, t.study, {}, opts)).filter(
      (s) => !['SEG', 'RTSTRUCT', 'SR', 'PR', 'KO'].includes(jsonValue(s, '00080060') ?? ''),
    );
    const list = found
      .map(
        (s) =>
          `${jsonValue(s, '0020000E')} (${jsonValue(s, '00080060') ?? '?'}${jsonValue(s, '0008103E') ? `, "${jsonValue(s, '0008103E')}"` : ''})`,
      )
      .join('; ');
    throw new MedsamError(
      `${url} names a study, not a series; ${found.length ? `its image series: ${list}` : 'it has no image series'}`,
      'append /series/<SeriesInstanceUID>',
    );
  }
  const inputs = await retrieveSeries(t.base, t.study, t.series, opts);
  const v = await readDicomSeries(inputs, opts, url);
  return { ...v, source: { format: 'dicom', path: url } };
}
