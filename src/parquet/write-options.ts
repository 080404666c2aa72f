/** Parquet write options: codecs, row groups, and the dictionary choice per column. */
import type { StructType, Value as DeltaValue } from './data-model.ts';

export type Codec = 'zstd' | 'snappy' | 'gzip' | 'uncompressed';

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
