/** A TableRoot of in-memory stores, optionally failing on demand (storage outages). */
import { MemoryObjectStore } from '../../src/storage/memory.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import type { TableRoot } from '../../src/ingest/tables.ts';

export class FlakyStore extends MemoryObjectStore {
  failing = false;
  private check(): void {
    if (this.failing) throw new Error('simulated storage outage');
  }
  override async put(path: string, data: Uint8Array) {
    this.check();
    return super.put(path, data);
  }
  override async putIfAbsent(path: string, data: Uint8Array) {
    this.check();
    return super.putIfAbsent(path, data);
  }
  override async get(path: string) {
    this.check();
    return super.get(path);
  }
  override async list(prefix: string, o?: { startAfter?: string }) {
    this.check();
    return super.list(prefix, o);
  }
}

export function memoryRoot(): TableRoot & { stores: Map<string, FlakyStore>; setFailing(v: boolean): void } {
  const stores = new Map<string, FlakyStore>();
  return {
    url: 'memory://root',
    stores,
    store(name: string): ObjectStore {
      let s = stores.get(name);
      if (!s) stores.set(name, (s = new FlakyStore(name)));
      return s;
    },
    setFailing(v: boolean) {
      for (const s of stores.values()) s.failing = v;
    },
  };
}
