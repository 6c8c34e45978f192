import { ZipArchive } from './zip.js';

/**
 * Zips of pictures: a zip whose members are all PNG/JPEG is a video's frames, any other zip (a
 * DICOM series) is not. One rule for the server (which stores the upload as frames or a series)
 * and the web app (which opens video mode or uploads a series), so the two never disagree.
 */

/** A picture member (a frame). */
export const FRAME_NAME = /\.(png|jpe?g)$/i;
/** Files archivers and file managers add that are no one's data. */
export const JUNK_NAME = /(^|\/)(__MACOSX|\.DS_Store|Thumbs\.db|desktop\.ini)/;

/** The non-junk, non-folder members of a zip. */
export function zipMembers(zip: ZipArchive): string[] {
  return zip.names().filter((n) => !n.endsWith('/') && !JUNK_NAME.test(n));
}

/** Whether `bytes` is a zip whose members are all PNG/JPEG pictures (an unreadable zip is not). */
export function isFrameZip(bytes: Uint8Array): boolean {
  try {
    const m = zipMembers(ZipArchive.open(bytes, 'upload'));
    return m.length > 0 && m.every((n) => FRAME_NAME.test(n));
  } catch {
    return false;
  }
}
