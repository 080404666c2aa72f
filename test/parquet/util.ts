/** Shared helpers for the src/parquet tests: encode, store, read back, and footer access. */
import { parquetMetadata, type FileMetaData } from 'hyparquet';
import type { DataType, StructType } from '../../src/delta/schema.ts';
import { coerceValue, type DeltaValue } from '../../src/delta/values.ts';
import { openParquet, type ParquetFile } from '../../src/parquet/read.ts';
import { encodeColumns, type ParquetWriteOptions } from '../../src/parquet/write.ts';
import { MemoryObjectStore } from '../../src/storage/memory.ts';

export const P = (name: Extract<DataType, { kind: 'primitive' }>['name']): DataType => ({ kind: 'primitive', name });
export const decimal = (precision: number, scale: number): DataType => ({ kind: 'decimal', precision, scale });
export const array = (elementType: DataType, containsNull = true): DataType => ({
  kind: 'array',
  elementType,
  containsNull,
});
export const map = (keyType: DataType, valueType: DataType, valueContainsNull = true): DataType => ({
  kind: 'map',
  keyType,
  valueType,
  valueContainsNull,
});

/** Footer of Parquet bytes, parsed by hyparquet directly (not through read.ts). */
export function footer(bytes: Uint8Array): FileMetaData {
  return parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

export interface RoundTrip {
  bytes: Uint8Array;
  file: ParquetFile;
  /** What read.ts returns. */
  raw: Record<string, unknown>[];
  /** The raw rows mapped onto the schema as the Delta reader does (coerceValue), one array per column. */
  columns: Record<string, DeltaValue[]>;
}

/** Encode with write.ts, put in a memory store, read back with read.ts. */
export async function roundTrip(
  schema: StructType,
  columns: Record<string, ArrayLike<DeltaValue>>,
  numRows: number,
  options?: ParquetWriteOptions,
): Promise<RoundTrip> {
  const bytes = await encodeColumns(schema, columns, numRows, options);
  const store = new MemoryObjectStore('roundtrip');
  await store.put('part-0.parquet', bytes);
  const file = await openParquet(store, 'part-0.parquet');
  const raw = await file.readRows();
  const out: Record<string, DeltaValue[]> = {};
  for (const f of schema.fields) out[f.name] = raw.map((r) => coerceValue(r[f.name], f.type));
  return { bytes, file, raw, columns: out };
}
