/**
 * What a case from a DICOM series allows that others do not: its label versions can be DICOM SEGs
 * referencing the series (download, export), and so can be sent to the server's PACS. Pure (no
 * DOM, no API) so the pages' rules are tested without a browser.
 */

/** Whether a case's image is a DICOM series (so its label versions can be a DICOM SEG referencing it). */
export function isDicomCase(c: { sourceFormat?: string | null }): boolean {
  return c.sourceFormat === 'dicom-zip';
}

/** Why nothing can go to the PACS: this server has none (its operator sets one). */
export const NO_PACS = 'This server has no PACS configured: whoever runs it starts it with --stow-url http://pacs/dicom-web';

/** Why a case's versions cannot be sent to the PACS (the disabled control's tooltip), or null when they can. */
export function pacsSendBlocker(c: { sourceFormat?: string | null }, pacs: string | null | undefined): string | null {
  if (!isDicomCase(c))
    return `This case's image is ${c.sourceFormat ?? 'not a DICOM series'}: a DICOM SEG needs the DICOM series it was drawn on to reference`;
  return pacs ? null : NO_PACS;
}
