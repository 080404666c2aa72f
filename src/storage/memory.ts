/** In-memory ObjectStore, for unit tests. Same contract as the real stores. */
import { NotFoundError } from '../errors.ts';
import {
  comparePaths,
  validateRelativePath,
  type ListOptions,
  type ObjectMeta,
  type ObjectStore,
} from './object-store.ts';

export class MemoryObjectStore implements ObjectStore {
  readonly url: string;
  private readonly objects = new Map<string, { data: Uint8Array; lastModified: Date }>();

  constructor(name = 'memory') {
    this.url = `memory://${name}`;
  }

  async get(path: string): Promise<Uint8Array> {
    const o = this.objects.get(path);
    if (!o) throw new NotFoundError(`${this.url}/${path}`);
    return o.data.slice();
  }

  async getRange(path: string, start: number, end: number): Promise<Uint8Array> {
    const o = this.objects.get(path);
    if (!o) throw new NotFoundError(`${this.url}/${path}`);
    return o.data.slice(start, Math.min(end, o.data.length));
  }

  async head(path: string): Promise<ObjectMeta | null> {
    const o = this.objects.get(path);
    return o ? { path, size: o.data.length, lastModified: o.lastModified } : null;
  }

  async list(prefix: string, options?: ListOptions): Promise<ObjectMeta[]> {
    const out: ObjectMeta[] = [];
    for (const [path, o] of this.objects) {
      if (!path.startsWith(prefix)) continue;
      if (options?.startAfter !== undefined && comparePaths(path, options.startAfter) <= 0) continue;
      out.push({ path, size: o.data.length, lastModified: o.lastModified });
    }
    return out.sort((a, b) => comparePaths(a.path, b.path));
  }

  async put(path: string, data: Uint8Array): Promise<void> {
    validateRelativePath(path);
    this.objects.set(path, { data: data.slice(), lastModified: new Date() });
  }

  async putIfAbsent(path: string, data: Uint8Array): Promise<boolean> {
    validateRelativePath(path);
    if (this.objects.has(path)) return false;
    this.objects.set(path, { data: data.slice(), lastModified: new Date() });
    return true;
  }

  async delete(path: string): Promise<void> {
    this.objects.delete(path);
  }
}
