/** Durable local files: content fsync'ed before it is published, directory entries fsync'ed after. */
import * as fs from 'node:fs/promises';

/** Write `data` to `path` and fsync it (the caller publishes it, e.g. by rename). */
export async function writeFileDurable(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await fs.open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Make a directory's entries durable (after rename/link/create). Best effort where fsync on directories is refused. */
export async function syncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
