/**
 * Parquet encoding: codecs, options and the column layout choices, with the
 * encoder itself (parquet-wasm and apache-arrow, `wasm-writer.ts`) loaded on
 * first use: a service whose posts go to the native encoder never loads
 * them (about 35 MB of code and memory) unless it writes another table.
 */
import type { StructType, Value as DeltaValue } from './data-model.ts';
export { ValueError } from './value-error.ts';

export { DEFAULT_CODEC, mostlyDistinctColumns, type Codec, type ParquetWriteOptions } from './write-options.ts';
import type { ParquetWriteOptions } from './write-options.ts';

/** Encode named columns of Delta values under `schema` as a Parquet file. */
export async function encodeColumns(
  schema: StructType,
  columns: Record<string, ArrayLike<DeltaValue>>,
  numRows: number,
  options: ParquetWriteOptions = {},
): Promise<Uint8Array> {
  const { encodeColumnsNow } = await import('./wasm-writer.ts');
  return encodeColumnsNow(schema, columns, numRows, options);
}
