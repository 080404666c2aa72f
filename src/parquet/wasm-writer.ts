/**
 * Parquet encoding with parquet-wasm (Rust's `parquet` crate in WebAssembly)
 * from Arrow data. Note: the WASM memory grows to the largest batch written and
 * never shrinks, so callers bound batch bytes.
 *
 * Defaults: snappy, as delta-rs and Spark write by default (zstd encodes
 * slower for smaller files); dictionary encoding is turned off for top-level
 * text columns whose values are mostly distinct (titles, ids, URLs), where a
 * dictionary only costs time and space.
 */
import * as arrow from 'apache-arrow';
import pw from 'parquet-wasm/node';
import type { StructType } from './data-model.ts';
import type { Value as DeltaValue } from './data-model.ts';
import { buildTable } from './arrow.ts';
import { DEFAULT_CODEC, mostlyDistinctColumns, type ParquetWriteOptions } from './write-options.ts';

/** Writer properties for parquet-wasm (shared with the encoder worker). */
export function writerProperties(options: ParquetWriteOptions): pw.WriterProperties {
  const codec = options.codec ?? DEFAULT_CODEC;
  const c =
    codec === 'zstd'
      ? pw.Compression.ZSTD
      : codec === 'snappy'
        ? pw.Compression.SNAPPY
        : codec === 'gzip'
          ? pw.Compression.GZIP
          : pw.Compression.UNCOMPRESSED;
  let b = new pw.WriterPropertiesBuilder()
    .setCompression(c)
    .setMaxRowGroupSize(options.rowGroupSize ?? 131072)
    .setCreatedBy('reddit-stream delta writer (parquet-wasm)');
  for (const name of options.noDictionary ?? []) b = b.setColumnDictionaryEnabled(name, false);
  return b.build();
}

/** Encode an Arrow table as a Parquet file. */
export function encodeArrow(table: arrow.Table, options: ParquetWriteOptions = {}): Uint8Array {
  return encodeIpc(arrow.tableToIPC(table, 'stream'), options);
}

/** Encode an Arrow IPC stream as a Parquet file. */
export function encodeIpc(ipc: Uint8Array, options: ParquetWriteOptions = {}): Uint8Array {
  const wasmTable = pw.Table.fromIPCStream(ipc);
  try {
    return pw.writeParquet(wasmTable, writerProperties(options));
  } finally {
    try {
      wasmTable.free();
    } catch {
      /* consumed by writeParquet */
    }
  }
}

/** Encode named columns of Delta values under `schema` as a Parquet file (in this thread, now). */
export function encodeColumnsNow(
  schema: StructType,
  columns: Record<string, ArrayLike<DeltaValue>>,
  numRows: number,
  options: ParquetWriteOptions = {},
): Uint8Array {
  const noDictionary = options.noDictionary ?? mostlyDistinctColumns(schema, columns, numRows);
  return encodeArrow(buildTable(schema, columns, numRows), { ...options, noDictionary });
}
