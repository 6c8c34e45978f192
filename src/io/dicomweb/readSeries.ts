/** A DICOMweb series URL → Volume (WADO-RS retrieve, then the byte-level series reader). Browser-safe. */
import { MedsamError } from '../../common/errors.js';
import { readDicomSeries, type DicomSeriesOptions } from '../dicom/series.js';
import type { Volume } from '../volume.js';
import { parseDicomwebUrl, retrieveSeries, type DicomwebOptions } from './client.js';

export async function readDicomwebSeries(url: string, opts: DicomSeriesOptions & DicomwebOptions = {}): Promise<Volume> {
  const t = parseDicomwebUrl(url);
  if (!t.study || !t.series) throw new MedsamError(`${url} does not name a series`, 'use dicomweb://host:port/dicom-web/studies/<StudyUID>/series/<SeriesUID>');
  const inputs = await retrieveSeries(t.base, t.study, t.series, opts);
  const v = await readDicomSeries(inputs, opts, url);
  return { ...v, source: { format: 'dicom', path: url } };
}
