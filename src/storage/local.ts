/**
 * Local-filesystem ObjectStore.
 *
 * Atomicity: every write goes to a hidden temporary file in the destination
 * directory, is fsync'ed, then published by `rename` (put: replace) or `link`
 * (putIfAbsent: the kernel refuses to link over an existing name, so exactly one
 * racing writer wins). Readers never see partial files. Temporary files start
 * with `.tmp-`, which Delta readers treat as hidden.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import { NotFoundError, ReddStreamError } from '../errors.ts';
import { syncDir } from './durable.ts';
import {
  comparePaths,
  validateRelativePath,
  type ListOptions,
  type ObjectMeta,
  type ObjectStore,
} from './object-store.ts';

export interface LocalStoreOptions {
  /** fsync files before publishing them (default true). */
  fsync?: boolean;
}

export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  readonly url: string;
  private readonly fsync: boolean;

  constructor(root: string, options: LocalStoreOptions = {}) {
    this.root = nodePath.resolve(root);
    this.url = pathToFileURL(this.root).href;
    this.fsync = options.fsync ?? true;
  }

  private abs(path: string): string {
    validateRelativePath(path);
    return nodePath.join(this.root, ...path.split('/'));
  }

  async get(path: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await fs.readFile(this.abs(path)));
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  async getRange(path: string, start: number, end: number): Promise<Uint8Array> {
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(this.abs(path), 'r');
      const len = Math.max(0, end - start);
      const buf = new Uint8Array(len);
      let off = 0;
      while (off < len) {
        const { bytesRead } = await fh.read(buf, off, len - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === len ? buf : buf.subarray(0, off);
    } catch (err) {
      throw this.mapError(err, path);
    } finally {
      await fh?.close();
    }
  }

  async head(path: string): Promise<ObjectMeta | null> {
    try {
      const st = await fs.stat(this.abs(path));
      if (!st.isFile()) return null;
      return { path, size: st.size, lastModified: st.mtime };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        return null;
      }
      throw this.mapError(err, path);
    }
  }

  async list(prefix: string, options?: ListOptions): Promise<ObjectMeta[]> {
    // Walk from the deepest directory fully contained in the prefix.
    const slash = prefix.lastIndexOf('/');
    const dirRel = slash >= 0 ? prefix.slice(0, slash) : '';
    const out: ObjectMeta[] = [];
    const walk = async (rel: string): Promise<void> => {
      const abs = rel === '' ? this.root : nodePath.join(this.root, ...rel.split('/'));
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(abs, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw this.mapError(err, rel);
      }
      for (const e of entries) {
        const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) {
          if (prefix.startsWith(childRel + '/') || childRel.startsWith(prefix) || (childRel + '/').startsWith(prefix)) {
            await walk(childRel);
          }
        } else if (e.isFile() && childRel.startsWith(prefix) && !e.name.startsWith('.tmp-')) {
          if (options?.startAfter !== undefined && comparePaths(childRel, options.startAfter) <= 0) continue;
          const st = await fs.stat(nodePath.join(abs, e.name)).catch(() => null);
          if (st) out.push({ path: childRel, size: st.size, lastModified: st.mtime });
        }
      }
    };
    await walk(dirRel);
    return out.sort((a, b) => comparePaths(a.path, b.path));
  }

  async put(path: string, data: Uint8Array): Promise<void> {
    const dest = this.abs(path);
    const tmp = await this.writeTemp(dest, data);
    try {
      await fs.rename(tmp, dest);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw this.mapError(err, path);
    }
    await this.syncDir(nodePath.dirname(dest));
  }

  async putIfAbsent(path: string, data: Uint8Array): Promise<boolean> {
    const dest = this.abs(path);
    const tmp = await this.writeTemp(dest, data);
    let created: boolean;
    try {
      await fs.link(tmp, dest);
      created = true;
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw this.mapError(err, path);
    }
    // The object is published; failing to remove the temp name must not hide that.
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    await this.syncDir(nodePath.dirname(dest));
    return created;
  }

  /** Make a directory entry durable (after rename/link, or after creating the directory). */
  private async syncDir(dir: string): Promise<void> {
    if (this.fsync) await syncDir(dir);
  }

  async delete(path: string): Promise<void> {
    await fs.rm(this.abs(path), { force: true });
  }

  private async writeTemp(dest: string, data: Uint8Array): Promise<string> {
    const dir = nodePath.dirname(dest);
    const made = await fs.mkdir(dir, { recursive: true });
    if (made) {
      // New directories must be durable before anything in them is referenced.
      for (let d = dir; ; d = nodePath.dirname(d)) {
        await this.syncDir(nodePath.dirname(d));
        if (d === made || d === nodePath.dirname(d)) break;
      }
    }
    const tmp = nodePath.join(dir, `.tmp-${randomUUID()}`);
    const fh = await fs.open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      if (this.fsync) await fh.sync();
    } catch (err) {
      await fh.close();
      await fs.rm(tmp, { force: true });
      throw this.mapError(err, dest);
    }
    await fh.close();
    return tmp;
  }

  private mapError(err: unknown, path: string): Error {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      return new NotFoundError(nodePath.join(this.root, path), { cause: err });
    }
    if (err instanceof ReddStreamError) return err;
    const transient = code === 'EAGAIN' || code === 'EBUSY' || code === 'EMFILE';
    return new ReddStreamError(
      transient ? 'STORAGE_UNAVAILABLE' : 'STORAGE_REFUSED',
      `local storage error on ${nodePath.join(this.root, path)}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
