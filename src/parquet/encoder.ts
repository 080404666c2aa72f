/**
 * Parquet encoders: in the calling thread, or on a worker thread so encoding
 * (the most expensive step of a commit) runs in parallel with decoding and
 * normalising the next messages. The Arrow data is built in the caller and
 * handed over as an IPC stream (transferred, not copied).
 */
import * as arrow from 'apache-arrow';
import { Worker } from 'node:worker_threads';
import type { StructType } from '../delta/schema.ts';
import type { DeltaValue } from '../delta/values.ts';
import { buildTable } from './arrow.ts';
import { encodeColumns, mostlyDistinctColumns, type ParquetWriteOptions } from './write.ts';

export interface ParquetEncoder {
  encode(schema: StructType, columns: Record<string, ArrayLike<DeltaValue>>, numRows: number, options?: ParquetWriteOptions): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export const inlineEncoder: ParquetEncoder = {
  async encode(schema, columns, numRows, options) {
    return encodeColumns(schema, columns, numRows, options);
  },
};

/**
 * A pool of worker threads encoding Parquet; each job goes to the least busy
 * worker. One worker by default: on 2 cores the main thread (Kafka decoding,
 * normalising) needs the other core; measured faster and ~80 MB smaller than 2.
 */
export class WorkerEncoder implements ParquetEncoder {
  private readonly size: number;
  private readonly workers: Array<{ worker: Worker; busy: number } | null>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void; slot: number }>();

  constructor(size = 1) {
    this.size = size;
    this.workers = new Array(size).fill(null);
  }

  private slot(): number {
    let best = 0;
    for (let i = 0; i < this.size; i++) {
      const w = this.workers[i];
      if (!w) return i;
      if (w.busy < (this.workers[best]?.busy ?? 0)) best = i;
    }
    return best;
  }

  private ensure(i: number): { worker: Worker; busy: number } {
    const existing = this.workers[i];
    if (existing) return existing;
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const worker = new Worker(new URL(`./encode-worker${ext}`, import.meta.url));
    const entry = { worker, busy: 0 };
    worker.unref();
    worker.on('message', (m: { id: number; bytes?: Uint8Array; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      entry.busy--;
      if (entry.busy === 0) worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.bytes!);
    });
    const fail = (err: Error) => {
      if (this.workers[i] === entry) this.workers[i] = null;
      for (const [id, p] of this.pending) if (p.slot === i) { this.pending.delete(id); p.reject(err); }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`Parquet encoder worker exited with code ${code}`)));
    this.workers[i] = entry;
    return entry;
  }

  async encode(schema: StructType, columns: Record<string, ArrayLike<DeltaValue>>, numRows: number, options: ParquetWriteOptions = {}): Promise<Uint8Array> {
    const ipc = arrow.tableToIPC(buildTable(schema, columns, numRows), 'stream');
    const id = this.nextId++;
    const slot = this.slot();
    const entry = this.ensure(slot);
    const done = new Promise<Uint8Array>((resolve, reject) => this.pending.set(id, { resolve, reject, slot }));
    entry.busy++;
    entry.worker.ref();
    const opts: ParquetWriteOptions = { ...options, noDictionary: options.noDictionary ?? mostlyDistinctColumns(schema, columns, numRows) };
    entry.worker.postMessage({ id, ipc, options: opts }, [ipc.buffer as ArrayBuffer]);
    return done;
  }

  async close(): Promise<void> {
    const ws = this.workers.splice(0, this.workers.length, ...new Array(this.size).fill(null));
    await Promise.all(ws.map((w) => w?.worker.terminate()));
  }
}
