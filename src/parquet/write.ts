/**
 * Parquet encoding with parquet-wasm (Rust's `parquet` crate in WebAssembly)
 * from Arrow data. Note: the WASM memory grows to the largest batch written and
 * never shrinks, so callers bound batch bytes.
 */
import * as arrow from 'apache-arrow';
import pw from 'parquet-wasm/node';
import type { StructType } from '../delta/schema.ts';
import type { DeltaValue } from '../delta/values.ts';
import { buildTable } from './arrow.ts';

export type Codec = 'zstd' | 'snappy' | 'gzip' | 'uncompressed';

export interface ParquetWriteOptions {
  codec?: Codec;
  /** Rows per row group (default 128k). */
  rowGroupSize?: number;
}

function properties(options: ParquetWriteOptions) {
  const codec = options.codec ?? 'zstd';
  const c = codec === 'zstd' ? pw.Compression.ZSTD : codec === 'snappy' ? pw.Compression.SNAPPY : codec === 'gzip' ? pw.Compression.GZIP : pw.Compression.UNCOMPRESSED;
  return new pw.WriterPropertiesBuilder()
    .setCompression(c)
    .setMaxRowGroupSize(options.rowGroupSize ?? 131072)
    .setCreatedBy('reddit-stream delta writer (parquet-wasm)')
    .build();
}

/** Encode an Arrow table as a Parquet file. */
export function encodeArrow(table: arrow.Table, options: ParquetWriteOptions = {}): Uint8Array {
  const ipc = arrow.tableToIPC(table, 'stream');
  const wasmTable = pw.Table.fromIPCStream(ipc);
  try {
    return pw.writeParquet(wasmTable, properties(options));
  } finally {
    try { wasmTable.free(); } catch { /* consumed by writeParquet */ }
  }
}

/** Encode named columns of Delta values under `schema` as a Parquet file. */
export function encodeColumns(schema: StructType, columns: Record<string, ArrayLike<DeltaValue>>, numRows: number, options: ParquetWriteOptions = {}): Uint8Array {
  return encodeArrow(buildTable(schema, columns, numRows), options);
}
