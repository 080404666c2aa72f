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
  /** Messages that failed, by index in the job, with the reason and their bytes. */
  dead: Array<{ index: number; reason: string; value: Uint8Array }>;
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

/** Byte strings back to back (one copy; null entries are empty and flagged). */
export interface Packed {
  data: Uint8Array;
  /** End of entry i in `data` (entry i spans ends[i-1] (or 0) .. ends[i]). */
  ends: Uint32Array;
}

/** Pack byte strings into one buffer (for a job: transferable; taken from `buffers` when given). */
export function packMessages(values: ArrayLike<Uint8Array | null>, buffers?: PackBuffers): Packed & { nulls: Uint8Array | null } {
  let total = 0;
  let nulls: Uint8Array | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null) (nulls ??= new Uint8Array(values.length))[i] = 1;
    else total += v.byteLength;
  }
  const data = buffers ? buffers.acquire(total) : new Uint8Array(total);
  const ends = new Uint32Array(values.length);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null) {
      data.set(v, at);
      at += v.byteLength;
    }
    ends[i] = at;
  }
  return { data, ends, nulls };
}

/** Entry `i` of a packed buffer (a view). */
export function packedEntry(p: Packed, i: number): Uint8Array {
  return p.data.subarray(i === 0 ? 0 : p.ends[i - 1], p.ends[i]);
}

/** Normalise a job's messages into one columnar batch (pure). */
export function normaliseJob(job: Pick<PostBatchJob, 'data' | 'ends' | 'segments' | 'normalise'>): { batch: NormalisedBatch; dead: PostBatchResult['dead'] } {
  const dead: PostBatchResult['dead'] = [];
  const builder = new PostBatchBuilder(job.normalise);
  let index = 0;
  for (const count of job.segments) {
    builder.startSegment();
    for (let k = 0; k < count; k++, index++) {
      const bytes = packedEntry(job, index);
      const r = builder.add(bytes, index);
      if (!r.ok) dead.push({ index, reason: r.reason, value: bytes.slice() });
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

/**
 * Post batches encoded on a pool of worker threads; data goes in and files
 * come back without copies. Small batches while the pool is idle (a steady
 * trickle of posts) are encoded in the calling thread: no worker is started
 * for them, and workers idle for a minute stop, so a quiet service stays
 * small and a busy one uses every core.
 */
export class WorkerPostBatchEncoder implements PostBatchEncoder {
  private readonly pool: WorkerPool<PostBatchJob, PostBatchResult>;
  private readonly inlineBelow: number;
  readonly parallelism: number;

  constructor(size = defaultPostWorkers(), options: { inlineBelowBytes?: number; idleMs?: number } = {}) {
    this.pool = new WorkerPool(siblingModule(import.meta.url, 'post-batch-worker'), size, { idleMs: options.idleMs });
    this.parallelism = this.pool.size;
    this.inlineBelow = options.inlineBelowBytes ?? 1024 * 1024;
  }

  async encode(job: PostBatchJob): Promise<PostBatchResult> {
    if (job.data.byteLength < this.inlineBelow && this.pool.busy === 0) {
      const result = await encodePostBatch(job);
      result.recycled = job.data.buffer as ArrayBuffer;
      return result;
    }
    return this.pool.run(job, [job.data.buffer as ArrayBuffer, job.ends.buffer as ArrayBuffer]);
  }

  /** Recycles job buffers handed back by the workers. */
  readonly buffers = new PackBuffers();

  close(): Promise<void> {
    return this.pool.close();
  }
}
