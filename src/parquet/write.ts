/**
 * Parquet encoding: codecs, options and the column layout choices, with the
 * encoder itself (parquet-wasm and apache-arrow, `wasm-writer.ts`) loaded on
 * first use: a service whose posts go to the native encoder never loads
 * them (about 35 MB of code and memory) unless it writes another table.
 */
import type { StructType } from '../delta/schema.ts';
import type { DeltaValue } from '../delta/values.ts';

export type Codec = 'zstd' | 'snappy' | 'gzip' | 'uncompressed';

/** A value that does not fit its column (its type, or a null in a required column): the row's fault, not the writer's. */
export class ValueError extends TypeError {
  /** The top-level column the value belongs to. */
  readonly column: string;
  constructor(message: string, column: string) {
    super(message);
    this.column = column;
  }
}

export const DEFAULT_CODEC: Codec = 'snappy';

export interface ParquetWriteOptions {
  codec?: Codec;
  /** Rows per row group (default 128k). */
  rowGroupSize?: number;
  /** Top-level columns written without a dictionary (see `mostlyDistinctColumns`). */
  noDictionary?: string[];
}

/**
 * Top-level string/binary columns whose first values are mostly distinct
 * (more than half of a sample of up to 256 non-null values).
 */
export function mostlyDistinctColumns(
  schema: StructType,
  columns: Record<string, ArrayLike<DeltaValue>>,
  numRows: number,
): string[] {
  const out: string[] = [];
  for (const f of schema.fields) {
    if (f.type.kind !== 'primitive' || (f.type.name !== 'string' && f.type.name !== 'binary')) continue;
    const col = columns[f.name];
    if (!col || f.type.name === 'binary') continue;
    const seen = new Set<DeltaValue>();
    let sampled = 0;
    for (let i = 0; i < numRows && sampled < 256; i++) {
      const v = col[i];
      if (v === null || v === undefined) continue;
      sampled++;
      seen.add(v);
    }
    if (sampled >= 16 && seen.size * 2 > sampled) out.push(f.name);
  }
  return out;
}

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
