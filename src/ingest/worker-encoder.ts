/**
 * Encoding on worker threads: whole batches go to a pool of workers, so
 * parsing and encoding use every core while the main thread keeps fetching
 * and committing. A job larger than the job size is split into parts encoded
 * in parallel, whose results are merged into the job's (the native encoder
 * splits jobs the same way).
 */
import * as os from 'node:os';
import { siblingModule, WorkerPool } from '../worker-pool.ts';
import { PackBuffers } from './packed-messages.ts';
import { encodePostBatch, type PostBatchEncoder, type PostBatchJob, type PostBatchResult } from './post-batch.ts';

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

/**
 * Largest job a worker gets: a flush over this size is split into parts
 * encoded in parallel, one data file each. A worker's memory follows its job
 * size (bench/encode-workers.ts measures it), so this bounds memory without
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
