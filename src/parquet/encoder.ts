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
import { encodeArrow, type ParquetWriteOptions } from './write.ts';

export interface ParquetEncoder {
  encode(schema: StructType, columns: Record<string, ArrayLike<DeltaValue>>, numRows: number, options?: ParquetWriteOptions): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export const inlineEncoder: ParquetEncoder = {
  async encode(schema, columns, numRows, options) {
    return encodeArrow(buildTable(schema, columns, numRows), options);
  },
};

/** One worker thread encoding Parquet; jobs queue in order. */
export class WorkerEncoder implements ParquetEncoder {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const w = new Worker(new URL(`./encode-worker${ext}`, import.meta.url));
    w.unref();
    w.on('message', (m: { id: number; bytes?: Uint8Array; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.bytes!);
    });
    w.on('error', (err) => this.failAll(err));
    w.on('exit', (code) => {
      this.worker = null;
      if (this.pending.size) this.failAll(new Error(`Parquet encoder worker exited with code ${code}`));
    });
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async encode(schema: StructType, columns: Record<string, ArrayLike<DeltaValue>>, numRows: number, options: ParquetWriteOptions = {}): Promise<Uint8Array> {
    const ipc = arrow.tableToIPC(buildTable(schema, columns, numRows), 'stream');
    const id = this.nextId++;
    const w = this.ensure();
    const done = new Promise<Uint8Array>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    w.ref();
    w.postMessage({ id, ipc, codec: options.codec ?? 'zstd', rowGroupSize: options.rowGroupSize ?? 131072 }, [ipc.buffer as ArrayBuffer]);
    try {
      return await done;
    } finally {
      if (this.pending.size === 0) w.unref();
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
