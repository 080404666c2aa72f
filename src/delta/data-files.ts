/**
 * Data files of an append (pure apart from the injected encoder): a columnar
 * batch is grouped by partition values, split into files of about
 * `maxFileBytes` of input, encoded as Parquet and described by stats. Nothing
 * here touches storage or the log, so it runs anywhere (e.g. a worker
 * thread); `DeltaTable` names, uploads and commits the results.
 */
import type { ColumnBatch } from '../parquet/data-model.ts';
import type { Codec, ParquetWriteOptions } from '../parquet/write.ts';
import { partitionDir } from './partitions.ts';
import type { StructType } from './schema.ts';
import { computeStats, statsToJson } from './stats.ts';
import { serializePartitionValue, type DeltaValue } from './values.ts';

/** Columnar batch: one array of Delta values per column, all `numRows` long. */
export type { ColumnBatch } from '../parquet/data-model.ts';

/** One encoded data file, not yet named or uploaded. */
export interface EncodedFile {
  /** Partition directory ('' when unpartitioned), decoded. */
  dir: string;
  partitionValues: Record<string, string | null>;
  bytes: Uint8Array;
  /** `add.stats` JSON. */
  stats: string;
  numRows: number;
  codec: Codec;
}

export type EncodeFn = (
  schema: StructType,
  columns: Record<string, ArrayLike<DeltaValue>>,
  numRows: number,
  options: ParquetWriteOptions,
) => Promise<Uint8Array> | Uint8Array;

export interface EncodeFilesOptions {
  codec: Codec;
  /** `delta.dataSkippingNumIndexedCols` (negative: all). */
  numIndexedCols: number;
  maxFileBytes: number;
  encode: EncodeFn;
  /** Size of the batch's input when the caller knows it (e.g. raw message bytes): at most `maxFileBytes` skips measuring rows. */
  inputBytes?: number;
}

/** Group row indexes by partition directory (pure). */
export function groupByPartition(
  schema: StructType,
  partitionColumns: string[],
  batch: ColumnBatch,
): Map<string, { values: Record<string, string | null>; rows: number[] }> {
  const groups = new Map<string, { values: Record<string, string | null>; rows: number[] }>();
  if (partitionColumns.length === 0) {
    groups.set('', { values: {}, rows: Array.from({ length: batch.numRows }, (_, i) => i) });
    return groups;
  }
  const types = partitionColumns.map((c) => schema.fields.find((f) => f.name === c)!.type);
  for (let i = 0; i < batch.numRows; i++) {
    const strs = partitionColumns.map((c, j) => {
      const col = batch.columns[c];
      const s = serializePartitionValue(col ? (col[i] ?? null) : null, types[j]);
      return s === '' ? null : s;
    });
    const dir = partitionDir(partitionColumns, strs);
    let g = groups.get(dir);
    if (!g) {
      g = { values: Object.fromEntries(partitionColumns.map((c, j) => [c, strs[j]])), rows: [] };
      groups.set(dir, g);
    }
    g.rows.push(i);
  }
  return groups;
}

/** Rough in-memory size of a value, for splitting batches into files. */
function approxBytes(v: DeltaValue): number {
  if (v === null || v === undefined) return 1;
  if (typeof v === 'string') return v.length + 4;
  if (v instanceof Uint8Array) return v.byteLength + 4;
  if (typeof v === 'object') return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? 0 : x))?.length ?? 8;
  return 8;
}

/** Split `rows` into runs whose approximate size stays under `maxBytes` (pure). */
export function chunkRows(batch: ColumnBatch, rows: number[], schema: StructType, maxBytes: number): number[][] {
  const cols = schema.fields
    .map((f) => batch.columns[f.name])
    .filter((c): c is ArrayLike<DeltaValue> => c !== undefined);
  const out: number[][] = [];
  let cur: number[] = [];
  let size = 0;
  for (const i of rows) {
    let row = 0;
    for (const c of cols) row += approxBytes(c[i] ?? null);
    if (cur.length > 0 && size + row > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(i);
    size += row;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Encode `batch` (in `schema`, the table's full schema) into data files: one
 * or more per partition directory. Files of one call are encoded
 * concurrently when `encode` is asynchronous; their order is the order of the
 * rows. Errors name the column and value that does not fit.
 */
export async function encodeDataFiles(
  schema: StructType,
  partitionColumns: string[],
  batch: ColumnBatch,
  options: EncodeFilesOptions,
): Promise<EncodedFile[]> {
  if (batch.numRows === 0) return [];
  const dataSchema: StructType = {
    kind: 'struct',
    fields: schema.fields.filter((f) => !partitionColumns.includes(f.name)),
  };
  const numIndexedCols = options.numIndexedCols >= 0 ? options.numIndexedCols : 1 << 30;
  const jobs: Array<Promise<EncodedFile>> = [];
  for (const [dir, group] of groupByPartition(schema, partitionColumns, batch)) {
    const small = options.inputBytes !== undefined && options.inputBytes <= options.maxFileBytes;
    for (const rows of small ? [group.rows] : chunkRows(batch, group.rows, dataSchema, options.maxFileBytes)) {
      const first = rows[0];
      const contiguous = rows[rows.length - 1] - first === rows.length - 1;
      const columns: Record<string, ArrayLike<DeltaValue>> = {};
      for (const f of dataSchema.fields) {
        const col = batch.columns[f.name];
        if (col === undefined) continue;
        if (rows.length === batch.numRows) columns[f.name] = col;
        else if (contiguous && Array.isArray(col)) columns[f.name] = col.slice(first, first + rows.length);
        else columns[f.name] = rows.map((i) => col[i] ?? null);
      }
      jobs.push(
        (async () => {
          const bytes = await options.encode(dataSchema, columns, rows.length, { codec: options.codec });
          const stats = statsToJson(computeStats(dataSchema, columns, rows.length, { numIndexedCols }));
          return { dir, partitionValues: group.values, bytes, stats, numRows: rows.length, codec: options.codec };
        })(),
      );
    }
  }
  return Promise.all(jobs);
}
