/**
 * Files of a drop, folders included: `DataTransfer.files` lists a dropped folder as one empty
 * entry, so folders are walked through the entries API (webkitGetAsEntry, in every current
 * browser), each file named by its path inside the drop as a folder picker names it.
 */

/** At most this many files are collected from one drop (a whole PACS export is not a series). */
const MAX_ENTRIES = 20_000;

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** Every entry of a folder (readEntries hands them out in batches until an empty one). */
async function children(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const out: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return out;
    out.push(...batch);
    if (out.length > MAX_ENTRIES) return out;
  }
}

/** The files dropped, with the folders among them walked; `folder` tells whether any was a folder. */
export async function droppedFiles(dt: DataTransfer): Promise<{ files: File[]; folder: boolean }> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (!entries.some((e) => e.isDirectory)) return { files: [...dt.files], folder: false };
  const files: File[] = [];
  const walk = async (e: FileSystemEntry, prefix: string): Promise<void> => {
    if (files.length >= MAX_ENTRIES) return;
    if (e.isFile) {
      const f = await fileOf(e as FileSystemFileEntry);
      // Named like a folder picker's webkitRelativePath, so messages and series picking read the same.
      Object.defineProperty(f, 'webkitRelativePath', { value: prefix + f.name });
      files.push(f);
    } else if (e.isDirectory) {
      for (const c of await children(e as FileSystemDirectoryEntry)) await walk(c, `${prefix}${e.name}/`);
    }
  };
  for (const e of entries) await walk(e, '');
  return { files, folder: true };
}
