/**
 * Parquet encoders: in the calling thread, or on a worker thread so encoding
 * (the most expensive step of a commit) runs in parallel with other work.
 * The Arrow data is built in the caller and handed over as an IPC stream
 * (transferred, not copied).
 */
import type { StructType } from './data-model.ts';
import type { Value as DeltaValue } from './data-model.ts';
import { siblingModule, WorkerPool } from '../worker-pool.ts';
import { encodeColumns, mostlyDistinctColumns, type ParquetWriteOptions } from './write.ts';

export interface ParquetEncoder {
  encode(
    schema: StructType,
    columns: Record<string, ArrayLike<DeltaValue>>,
    numRows: number,
    options?: ParquetWriteOptions,
  ): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export const inlineEncoder: ParquetEncoder = {
  async encode(schema, columns, numRows, options) {
    return encodeColumns(schema, columns, numRows, options);
  },
};

/** A pool of worker threads encoding Parquet (one by default). */
export class WorkerEncoder implements ParquetEncoder {
  private readonly pool: WorkerPool<{ ipc: Uint8Array; options: ParquetWriteOptions }, Uint8Array>;

  constructor(size = 1) {
    this.pool = new WorkerPool(siblingModule(import.meta.url, 'encode-worker'), size);
  }

  async encode(
    schema: StructType,
    columns: Record<string, ArrayLike<DeltaValue>>,
    numRows: number,
    options: ParquetWriteOptions = {},
  ): Promise<Uint8Array> {
    // Arrow is loaded on first use (see write.ts).
    const [arrow, { buildTable }] = await Promise.all([import('apache-arrow'), import('./arrow.ts')]);
    const ipc = arrow.tableToIPC(buildTable(schema, columns, numRows), 'stream');
    const opts: ParquetWriteOptions = {
      ...options,
      noDictionary: options.noDictionary ?? mostlyDistinctColumns(schema, columns, numRows),
    };
    return this.pool.run({ ipc, options: opts }, [ipc.buffer as ArrayBuffer]);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
