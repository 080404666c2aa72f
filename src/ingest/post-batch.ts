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
import { encodeDataFiles, type ColumnBatch, type EncodedFile } from '../delta/data-files.ts';
import type { StructType } from '../delta/schema.ts';
import type { Codec } from '../parquet/write.ts';
import { encodeColumns, ValueError } from '../parquet/write.ts';
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
  firstRows: Array<{
    subreddit: string | null;
    title: string | null;
    score: number | bigint | null;
    created_utc: number | null;
  }>;
  /** With `withIds`: the id of each row, and how many rows each segment gave. */
  ids?: string[];
  segmentRows?: number[];
}

/**
 * Buffers for packing jobs, recycled: a job's buffer comes back with its
 * result, so steady streaming does not allocate (and page-fault) a fresh
 * multi-megabyte buffer per flush. At most `keep` idle buffers are held, and
 * none that sat unused for `idleMs` (a quiet service gives the memory back).
 */
export class PackBuffers {
  private free: Array<{ buf: ArrayBuffer; at: number }> = [];
  private readonly keep: number;
  private readonly idleMs: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(keep = 2, idleMs = 10_000) {
    this.keep = keep;
    this.idleMs = idleMs;
  }

  /** Bytes held in idle buffers. */
  get idleBytes(): number {
    return this.free.reduce((n, f) => n + f.buf.byteLength, 0);
  }

  acquire(size: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i].buf;
      if (
        b.byteLength >= size &&
        b.byteLength <= 2 * size + (1 << 20) &&
        (best < 0 || b.byteLength < this.free[best].buf.byteLength)
      ) {
        best = i;
      }
    }
    if (best >= 0) return new Uint8Array(this.free.splice(best, 1)[0].buf, 0, size);
    // Rounded up so buffers fit batches of similar size.
    return new Uint8Array(new ArrayBuffer(Math.ceil(Math.max(size, 1) / (1 << 20)) * (1 << 20)), 0, size);
  }

  release(buf: ArrayBuffer | undefined): void {
    if (!buf || buf.byteLength === 0 || buf.byteLength > 256 << 20) return;
    this.free.push({ buf, at: Date.now() });
    if (this.free.length > this.keep) this.free.sort((a, b) => b.buf.byteLength - a.buf.byteLength).pop();
    this.timer ??= setTimeout(() => this.trim(), this.idleMs).unref();
  }

  /** Drop buffers idle for `idleMs` (runs by itself after releases). */
  trim(now = Date.now()): void {
    this.timer = null;
    this.free = this.free.filter((f) => now - f.at < this.idleMs);
    if (this.free.length) this.timer = setTimeout(() => this.trim(), this.idleMs).unref();
  }
}

/** Byte strings back to back (one copy; null entries are empty and flagged). */
export interface Packed {
  data: Uint8Array;
  /** End of entry i in `data` (entry i spans ends[i-1] (or 0) .. ends[i]). */
  ends: Uint32Array;
}

/** Pack byte strings into one buffer (for a job: transferable; taken from `buffers` when given). */
export function packMessages(
  values: ArrayLike<Uint8Array | null>,
  buffers?: PackBuffers,
): Packed & { nulls: Uint8Array | null } {
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
    booleansAsIntegers(job.schema, batch);
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

/** One part of a split job: its messages start at `first` in the whole job; `segmentOf[k]` is the whole job's segment of its segment k. */
export interface JobPart {
  job: PostBatchJob;
  first: number;
  segmentOf: number[];
}

/**
 * Split a job at message boundaries into parts of about `target` bytes each
 * (pure apart from `acquire`, which gives each part its own buffer so parts
 * can be transferred to different workers; null: parts are views of the
 * job's buffer). Parts ask for their rows' ids, so `mergeParts` can tell
 * whether a duplicate id fell into two parts.
 */
export function splitJob(
  job: PostBatchJob,
  target: number,
  acquire: ((size: number) => Uint8Array) | null = (n) => new Uint8Array(n),
): JobPart[] {
  const n = job.ends.length;
  const total = job.data.byteLength;
  const count = Math.min(n, Math.ceil(total / Math.max(1, target)));
  if (count <= 1) return [{ job, first: 0, segmentOf: job.segments.map((_, i) => i) }];
  const segStarts: number[] = [];
  let at = 0;
  for (const c of job.segments) {
    segStarts.push(at);
    at += c;
  }
  const end = (i: number) => (i === 0 ? 0 : job.ends[i - 1]);
  const parts: JobPart[] = [];
  let a = 0;
  for (let k = 1; k <= count && a < n; k++) {
    // Cut after the first message that reaches k/count of the bytes (the last part takes the rest).
    let b = a + 1;
    if (k === count) b = n;
    else while (b < n && job.ends[b - 1] < (total * k) / count) b++;
    const from = end(a);
    const view = job.data.subarray(from, job.ends[b - 1]);
    let data = view;
    if (acquire) {
      data = acquire(view.byteLength);
      data.set(view);
    }
    const ends = new Uint32Array(b - a);
    for (let i = a; i < b; i++) ends[i - a] = job.ends[i] - from;
    const segments: number[] = [];
    const segmentOf: number[] = [];
    job.segments.forEach((c, s) => {
      const overlap = Math.min(b, segStarts[s] + c) - Math.max(a, segStarts[s]);
      if (overlap > 0) {
        segments.push(overlap);
        segmentOf.push(s);
      }
    });
    parts.push({ job: { ...job, data, ends, segments, withIds: true }, first: a, segmentOf });
    a = b;
  }
  return parts;
}

/**
 * The result of a whole job from its parts' results, or null when one
 * partition's duplicate id landed in two parts (then only encoding the job in
 * one piece lets the last one win).
 */
export function mergeParts(parts: JobPart[], results: PostBatchResult[]): PostBatchResult | null {
  const seen = new Map<number, Set<string>>();
  for (let p = 0; p < parts.length; p++) {
    const r = results[p];
    if (!r.ids || !r.segmentRows) throw new Error('a part of a split job came back without its ids');
    let row = 0;
    r.segmentRows.forEach((rows, k) => {
      const segment = parts[p].segmentOf[k];
      let ids = seen.get(segment);
      if (!ids) seen.set(segment, (ids = new Set()));
      for (let i = row; i < row + rows; i++) ids.add(r.ids![i]);
      row += rows;
    });
  }
  const rows = results.reduce((n, r) => n + r.rows, 0);
  const distinct = [...seen.values()].reduce((n, ids) => n + ids.size, 0);
  if (distinct !== rows) return null;
  return {
    files: results.flatMap((r) => r.files),
    rows,
    duplicates: results.reduce((n, r) => n + r.duplicates, 0),
    dead: results.flatMap((r, p) => r.dead.map((d) => ({ ...d, index: d.index + parts[p].first }))),
    firstRows: results.flatMap((r) => r.firstRows).slice(0, 3),
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

/**
 * Largest job a worker gets: a flush over this size is split into parts
 * encoded in parallel, one data file each. A worker's memory follows its job
 * size (bench/encode-workers.ts: 2 workers peak at 539 MB with 8 MiB jobs,
 * 349 MB with 4 MiB, at the same posts/s), so this bounds memory without
 * making commits smaller.
 */
export const DEFAULT_JOB_BYTES = 4 * 1024 * 1024;

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
  private readonly jobBytes: number;
  readonly parallelism: number;

  constructor(
    size = defaultPostWorkers(),
    options: { inlineBelowBytes?: number; idleMs?: number; jobBytes?: number } = {},
  ) {
    this.pool = new WorkerPool(siblingModule(import.meta.url, 'post-batch-worker'), size, { idleMs: options.idleMs });
    this.parallelism = this.pool.size;
    this.inlineBelow = options.inlineBelowBytes ?? 1024 * 1024;
    this.jobBytes = options.jobBytes ?? DEFAULT_JOB_BYTES;
  }

  async encode(job: PostBatchJob): Promise<PostBatchResult> {
    if (job.data.byteLength < this.inlineBelow && this.pool.busy === 0) {
      const result = await encodePostBatch(job);
      result.recycled = job.data.buffer as ArrayBuffer;
      return result;
    }
    const parts =
      job.data.byteLength > this.jobBytes ? splitJob(job, this.jobBytes, (n) => this.buffers.acquire(n)) : [];
    if (parts.length <= 1) return this.run(job);
    // The parts hold copies of every message: the job's buffer can be reused at once.
    this.buffers.release(job.data.buffer as ArrayBuffer);
    // Part sizes, read before the parts' buffers are transferred (detached) to the workers.
    const sizes = parts.map((p) => p.job.data.byteLength);
    const results = await Promise.all(parts.map((p) => this.run(p.job)));
    const merged = mergeParts(parts, results);
    if (merged) {
      for (const r of results) this.buffers.release(r.recycled);
      return merged;
    }
    // A partition's duplicate id fell into two parts: in one piece (rejoined
    // from the parts' buffers, which come back unchanged), the last one wins.
    const data = this.buffers.acquire(job.ends[job.ends.length - 1]);
    parts.forEach((p, i) =>
      data.set(new Uint8Array(results[i].recycled!, 0, sizes[i]), p.first === 0 ? 0 : job.ends[p.first - 1]),
    );
    for (const r of results) this.buffers.release(r.recycled);
    return this.run({ ...job, data, ends: job.ends.slice() });
  }

  private run(job: PostBatchJob): Promise<PostBatchResult> {
    return this.pool.run(job, [job.data.buffer as ArrayBuffer, job.ends.buffer as ArrayBuffer]);
  }

  /** Recycles job buffers handed back by the workers. */
  readonly buffers = new PackBuffers();

  close(): Promise<void> {
    return this.pool.close();
  }
}
