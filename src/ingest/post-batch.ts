/**
 * Turning a flush's raw messages into encoded data files: parse, validate and
 * normalise every message (dead letters for the bad ones, the last of
 * duplicate ids within a partition wins), then encode Parquet files with
 * stats. `encodePostBatch` is pure CPU work with no I/O, so it runs in the
 * calling thread (`inlinePostBatchEncoder`) or on worker threads
 * (`WorkerPostBatchEncoder`): the service hands whole batches to workers so
 * parsing and encoding use every core while the main thread keeps fetching
 * and committing.
 */
import * as os from 'node:os';
import { encodeDataFiles, type EncodedFile } from '../delta/data-files.ts';
import type { StructType } from '../delta/schema.ts';
import type { Codec } from '../parquet/write.ts';
import { encodeColumns } from '../parquet/write.ts';
import { PostBatchBuilder, type NormaliseOptions, type NormalisedBatch } from '../reddit/normalise.ts';
import { siblingModule, WorkerPool } from '../worker-pool.ts';

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
}

export interface PostBatchResult {
  files: EncodedFile[];
  rows: number;
  duplicates: number;
  /** Messages that failed, by index in the job, with the reason. */
  dead: Array<{ index: number; reason: string }>;
  /** The job's `data` buffer, handed back for reuse (workers only). */
  recycled?: ArrayBuffer;
  /** The first rows, for the console summary. */
  firstRows: Array<{ subreddit: string | null; title: string | null; score: number | bigint | null; created_utc: number | null }>;
}

/**
 * Buffers for packing jobs, recycled: a worker hands a job's buffer back with
 * its result, so steady streaming does not allocate (and page-fault) a fresh
 * multi-megabyte buffer per flush. At most `keep` idle buffers are held.
 */
export class PackBuffers {
  private readonly free: ArrayBuffer[] = [];
  private readonly keep: number;

  constructor(keep = 4) {
    this.keep = keep;
  }

  acquire(size: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b.byteLength >= size && b.byteLength <= 2 * size + (1 << 20) && (best < 0 || b.byteLength < this.free[best].byteLength)) best = i;
    }
    if (best >= 0) return new Uint8Array(this.free.splice(best, 1)[0], 0, size);
    // Rounded up so buffers fit batches of similar size.
    return new Uint8Array(new ArrayBuffer(Math.ceil(Math.max(size, 1) / (1 << 20)) * (1 << 20)), 0, size);
  }

  release(buf: ArrayBuffer | undefined): void {
    if (!buf || buf.byteLength === 0 || buf.byteLength > 256 << 20) return;
    this.free.push(buf);
    if (this.free.length > this.keep) this.free.sort((a, b) => b.byteLength - a.byteLength).pop();
  }
}

/** Pack message values for a job (one copy into a transferable buffer). */
export function packMessages(values: Uint8Array[], buffers?: PackBuffers): { data: Uint8Array; ends: Uint32Array } {
  let total = 0;
  for (const v of values) total += v.byteLength;
  const data = buffers ? buffers.acquire(total) : new Uint8Array(total);
  const ends = new Uint32Array(values.length);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    data.set(values[i], at);
    at += values[i].byteLength;
    ends[i] = at;
  }
  return { data, ends };
}

/** Normalise a job's messages into one columnar batch (pure). */
export function normaliseJob(job: Pick<PostBatchJob, 'data' | 'ends' | 'segments' | 'normalise'>): { batch: NormalisedBatch; dead: PostBatchResult['dead'] } {
  const dead: PostBatchResult['dead'] = [];
  const builder = new PostBatchBuilder(job.normalise);
  let index = 0;
  for (const count of job.segments) {
    builder.startSegment();
    for (let k = 0; k < count; k++, index++) {
      const start = index === 0 ? 0 : job.ends[index - 1];
      const r = builder.add(job.data.subarray(start, job.ends[index]), index);
      if (!r.ok) dead.push({ index, reason: r.reason });
    }
  }
  return { batch: builder.build(), dead };
}

/** The whole job: normalise, then encode data files (pure CPU). */
export async function encodePostBatch(job: PostBatchJob): Promise<PostBatchResult> {
  const { batch, dead } = normaliseJob(job);
  const files = await encodeDataFiles(job.schema, job.partitionColumns, batch, { ...job.settings, encode: encodeColumns, inputBytes: job.data.byteLength });
  const c = batch.columns;
  return {
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

export interface PostBatchEncoder {
  encode(job: PostBatchJob): Promise<PostBatchResult>;
  /** Where to take job buffers from (results hand them back as `recycled`). */
  readonly buffers?: PackBuffers;
  /** How many jobs it runs at once (the pipeline keeps up to this many flushes per topic in flight). */
  readonly parallelism: number;
  close?(): Promise<void>;
}

export const inlinePostBatchEncoder: PostBatchEncoder = { encode: encodePostBatch, parallelism: 1 };

/** Workers for the default pool: one per core (the main thread mostly waits on I/O). */
export function defaultPostWorkers(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/** Post batches encoded on a pool of worker threads; data goes in and files come back without copies. */
export class WorkerPostBatchEncoder implements PostBatchEncoder {
  private readonly pool: WorkerPool<PostBatchJob, PostBatchResult>;
  readonly parallelism: number;

  constructor(size = defaultPostWorkers()) {
    this.pool = new WorkerPool(siblingModule(import.meta.url, 'post-batch-worker'), size);
    this.parallelism = this.pool.size;
  }

  encode(job: PostBatchJob): Promise<PostBatchResult> {
    return this.pool.run(job, [job.data.buffer as ArrayBuffer, job.ends.buffer as ArrayBuffer]);
  }

  /** Recycles job buffers handed back by the workers. */
  readonly buffers = new PackBuffers();

  close(): Promise<void> {
    return this.pool.close();
  }
}
