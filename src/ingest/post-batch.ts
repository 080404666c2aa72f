/**
 * Turning a flush's raw messages into encoded data files: parse, validate and
 * normalise every message (dead letters for the bad ones, the last of
 * duplicate ids within a partition wins), then encode Parquet files with
 * stats. `encodePostBatch` is pure CPU work with no I/O, so it runs in the
 * calling thread (`inlinePostBatchEncoder`) or on worker threads
 * (worker-encoder.ts).
 */
import type { FirstRow } from './summary.ts';
import { encodeDataFiles, type ColumnBatch, type EncodedFile } from '../delta/data-files.ts';
import type { StructType } from '../delta/schema.ts';
import type { Codec } from '../parquet/write.ts';
import { encodeColumns, ValueError } from '../parquet/write.ts';
import { PostBatchBuilder, type NormaliseOptions, type NormalisedBatch } from '../reddit/normalise.ts';
import { fillTimePartitions } from '../reddit/time-partitions.ts';
import { packedEntry, type PackBuffers } from './packed-messages.ts';

export interface PostBatchJob {
  /** Message values back to back. */
  data: Uint8Array;
  /** End of message i in `data` (message i spans ends[i-1] (or 0) .. ends[i]). */
  ends: Uint32Array;
  /** Messages per source partition, in order; duplicates are resolved within each. */
  segments: number[];
  normalise: NormaliseOptions;
  /** Schema to encode under (the table's, or its evolution) and its partition columns. */
  schema: StructType;
  partitionColumns: string[];
  settings: { codec: Codec; numIndexedCols: number; maxFileBytes: number };
  /** Return each row's id and the rows of each segment (to check duplicates across the parts of a split job). */
  withIds?: boolean;
}

export interface PostBatchResult {
  files: EncodedFile[];
  rows: number;
  duplicates: number;
  /** Messages that failed, by index in the job, with the reason and their bytes. */
  dead: Array<{ index: number; reason: string; value: Uint8Array }>;
  /** The job's `data` buffer, handed back for reuse (workers only). */
  recycled?: ArrayBuffer;
  /** The first rows, for the console summary. */
  firstRows: FirstRow[];
  /** With `withIds`: the id of each row, and how many rows each segment gave. */
  ids?: string[];
  segmentRows?: number[];
}

/**
 * Normalise a job's messages into one columnar batch (pure). Messages in
 * `reject` are dead letters with the given reason, as if the normaliser had
 * refused them (so they never replace an earlier copy of their id).
 */
export function normaliseJob(
  job: Pick<PostBatchJob, 'data' | 'ends' | 'segments' | 'normalise'>,
  reject?: ReadonlyMap<number, string>,
): { batch: NormalisedBatch; dead: PostBatchResult['dead']; segmentRows: number[] } {
  const dead: PostBatchResult['dead'] = [];
  const segmentRows: number[] = [];
  const builder = new PostBatchBuilder(job.normalise);
  let index = 0;
  for (const count of job.segments) {
    builder.startSegment();
    const before = builder.size;
    for (let k = 0; k < count; k++, index++) {
      const bytes = packedEntry(job, index);
      const refused = reject?.get(index);
      const r = refused === undefined ? builder.add(bytes, index) : { ok: false as const, reason: refused };
      if (!r.ok) dead.push({ index, reason: r.reason, value: bytes.slice() });
    }
    segmentRows.push(builder.size - before);
  }
  return { batch: builder.build(), dead, segmentRows };
}

/** Delta's integer types: a table's column of one of them holds booleans as 1 and 0 (see `booleansAsIntegers`). */
export const INTEGER_TYPES: ReadonlySet<string> = new Set(['long', 'integer', 'short', 'byte']);

/**
 * A table created elsewhere may have an integer column where posts give
 * booleans (the old Python pipeline's int32 `likes`, which Polars filled
 * with 1 and 0): true and false are written as 1 and 0 there, in place.
 */
export function booleansAsIntegers(schema: StructType, batch: ColumnBatch): void {
  for (const f of schema.fields) {
    if (f.type.kind !== 'primitive' || !INTEGER_TYPES.has(f.type.name)) continue;
    const col = batch.columns[f.name] as { [i: number]: unknown; length: number } | undefined;
    if (!col) continue;
    for (let i = 0; i < col.length; i++) if (typeof col[i] === 'boolean') col[i] = col[i] ? 1 : 0;
  }
}

/**
 * Adapt a normalised batch to the table it goes to (in place): booleans in
 * the table's integer columns, and its derived time-partition column.
 */
export function fitToTable(schema: StructType, partitionColumns: readonly string[], batch: ColumnBatch): void {
  booleansAsIntegers(schema, batch);
  fillTimePartitions(partitionColumns, batch);
}

/**
 * The rows of `batch` whose value in `column` does not fit the table's type
 * for it (or is missing where the table requires one), with the reason.
 */
async function rowsNotFitting(
  schema: StructType,
  batch: NormalisedBatch,
  column: string,
): Promise<Map<number, string>> {
  const { buildData } = await import('../parquet/arrow.ts');
  const field = schema.fields.find((f) => f.name === column);
  const col = batch.columns[column];
  const bad = new Map<number, string>();
  if (!field) return bad;
  for (let r = 0; r < batch.numRows; r++) {
    const v = col?.[r] ?? null;
    if (v === null) {
      if (!field.nullable) bad.set(r, `column ${column} is required by the table but the post has no value`);
      continue;
    }
    try {
      buildData(field.type, [v], column);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      bad.set(r, err.message);
    }
  }
  return bad;
}

/**
 * The whole job: normalise, then encode data files (pure CPU). A post whose
 * value does not fit the table's column (a narrower type in a table created
 * elsewhere, a missing value in a required column) is a dead letter with the
 * reason, as if the normaliser had refused it, and the rest is written: one
 * post does not fail its flush again on every retry. Other failures fail
 * the flush (it is re-read).
 */
export async function encodePostBatch(job: PostBatchJob): Promise<PostBatchResult> {
  const reject = new Map<number, string>();
  for (;;) {
    const { batch, dead, segmentRows } = normaliseJob(job, reject);
    fitToTable(job.schema, job.partitionColumns, batch);
    let files: EncodedFile[];
    try {
      files = await encodeDataFiles(job.schema, job.partitionColumns, batch, {
        ...job.settings,
        encode: encodeColumns,
        inputBytes: job.data.byteLength,
      });
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      // Find the posts with a value that does not fit this column, refuse them, and normalise again.
      const bad = await rowsNotFitting(job.schema, batch, err.column);
      if (bad.size === 0) throw err;
      for (const [r, reason] of bad) reject.set(batch.refs[r], `cannot be written to the table: ${reason}`);
      continue;
    }
    const c = batch.columns;
    return {
      ...(job.withIds ? { ids: batch.ids, segmentRows } : {}),
      files,
      rows: batch.numRows,
      duplicates: batch.duplicates,
      dead,
      firstRows: Array.from({ length: Math.min(3, batch.numRows) }, (_, i) => ({
        subreddit: (c.subreddit?.[i] ?? null) as string | null,
        title: (c.title?.[i] ?? null) as string | null,
        score: (c.score?.[i] ?? null) as number | bigint | null,
        created_utc: (c.created_utc?.[i] ?? null) as number | null,
      })),
    };
  }
}

export interface PostBatchEncoder {
  encode(job: PostBatchJob): Promise<PostBatchResult>;
  /** Where to take job buffers from (results hand them back as `recycled`). */
  readonly buffers?: PackBuffers;
  /** How many jobs it runs at once (the pipeline keeps up to this many flushes per topic in flight). */
  readonly parallelism: number;
  close?(): Promise<void>;
}

export const inlinePostBatchEncoder: PostBatchEncoder = { encode: encodePostBatch, parallelism: 1 };
