/**
 * Post batches encoded by the native addon (`native/`, Rust: sonic-rs JSON,
 * arrow-rs/parquet): parse, validate, build columns, write Parquet and stats
 * on libuv threads, without a JavaScript object per post and without worker
 * isolates. It is a faster path for the common case, not a second set of
 * rules:
 * - only jobs for the plain post table (the post schema with the configured
 *   unknown-field policy, no partition columns, one file's worth of input)
 *   go native; any other job goes to the fallback (JavaScript) encoder;
 * - the addon returns rejected messages by index; their reasons come from the
 *   JavaScript normaliser (`PostBatchBuilder`), which must reject them too;
 * - when the addon meets something it cannot reproduce exactly (lone
 *   surrogate escapes, duplicate or index-like keys, text in a double column,
 *   numbers beyond the double range), or the normaliser accepts a message the
 *   addon rejected, the whole job goes to the fallback encoder.
 * So the files written are the ones `encodePostBatch` would write;
 * test/ingest/native-encoder.test.ts compares both on real and edge-case posts.
 */
import type { StructType } from '../delta/schema.ts';
import { MAX_NESTING, PostBatchBuilder } from '../reddit/normalise.ts';
import { POST_FIELDS, postTableSchema } from '../reddit/post-schema.ts';
import { ReddStreamError } from '../errors.ts';
import { loadNativeAddon, type NativeAddon, type NativeOutput, type NativePostEncoder } from '../os/native-addon.ts';

export { defaultAddonPath, loadNativeAddon, type NativeAddon } from '../os/native-addon.ts';
import { PackBuffers } from './packed-messages.ts';
import {
  inlinePostBatchEncoder,
  type PostBatchEncoder,
  type PostBatchJob,
  type PostBatchResult,
} from './post-batch.ts';
import {
  DEFAULT_JOB_BYTES,
  defaultPostWorkers,
  mergeParts,
  splitJob,
  WorkerPostBatchEncoder,
} from './worker-encoder.ts';

const CODECS = new Set(['snappy', 'zstd', 'gzip', 'uncompressed']);
const ADDON_ERROR = 'addon error';

/** Why the job must be encoded in JavaScript (null: native can take it). */
function ineligible(
  job: PostBatchJob,
  expected: { keep: string; drop: string },
  schemaText: (s: StructType) => string,
): string | null {
  if (job.partitionColumns.length > 0) return 'partitioned table';
  if (!CODECS.has(job.settings.codec)) return `codec ${job.settings.codec}`;
  if (job.data.byteLength > job.settings.maxFileBytes) return 'more than one file of input';
  const policy = job.normalise.unknownFields ?? 'keep';
  if (schemaText(job.schema) !== expected[policy]) return 'table schema is not the post schema';
  return null;
}

/**
 * `delta.dataSkippingNumIndexedCols` as the addon takes it (an i32, negative:
 * all): the JavaScript stats index every column for anything that is not a
 * non-negative integer (NaN, 1.5), so those mean all here too.
 */
function indexedColumns(n: number): number {
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 2 ** 31 - 1) : -1;
}

export interface NativeEncoderStats {
  /** Jobs the addon encoded. */
  native: number;
  /** Jobs handed to the fallback encoder, by reason. */
  fallback: Record<string, number>;
}

export class NativePostBatchEncoder implements PostBatchEncoder {
  readonly parallelism: number;
  readonly buffers = new PackBuffers();
  readonly stats: NativeEncoderStats = { native: 0, fallback: {} };
  private readonly encoder: NativePostEncoder;
  private readonly fallback: PostBatchEncoder;
  private readonly jobBytes: number;
  private readonly expected = {
    keep: JSON.stringify(postTableSchema('keep')),
    drop: JSON.stringify(postTableSchema('drop')),
  };
  private readonly schemaTexts = new WeakMap<StructType, string>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  private readonly onFallback?: (reason: string) => void;

  /**
   * `fallback` encodes what the addon does not (its own workers, or inline);
   * `parallelism` jobs run at once on libuv threads (default: one per core);
   * flushes over `jobBytes` are split into parts encoded in parallel;
   * `onFallback` hears the first hand-over of each kind.
   */
  constructor(
    addon: NativeAddon,
    fallback: PostBatchEncoder,
    options: { parallelism?: number; jobBytes?: number; onFallback?: (reason: string) => void } = {},
  ) {
    this.encoder = new addon.PostEncoder(POST_FIELDS.map(([name, type]) => [name, type]));
    this.fallback = fallback;
    this.onFallback = options.onFallback;
    this.parallelism = Math.max(1, options.parallelism ?? defaultPostWorkers());
    this.jobBytes = options.jobBytes ?? DEFAULT_JOB_BYTES;
  }

  private schemaText(s: StructType): string {
    let t = this.schemaTexts.get(s);
    if (t === undefined) this.schemaTexts.set(s, (t = JSON.stringify(s)));
    return t;
  }

  private toFallback(job: PostBatchJob, reason: string): Promise<PostBatchResult> {
    // Addon errors count under one kind (their texts vary); the first is told in full.
    const kind = reason.startsWith(ADDON_ERROR) ? ADDON_ERROR : reason;
    const first = this.stats.fallback[kind] === undefined;
    this.stats.fallback[kind] = (this.stats.fallback[kind] ?? 0) + 1;
    if (first) this.onFallback?.(reason);
    return this.fallback.encode(job);
  }

  /** One line on what ran: jobs encoded natively and handed to JavaScript, by reason. */
  describe(): string {
    const f = Object.entries(this.stats.fallback);
    return `native encoder: ${this.stats.native} job(s) encoded natively, ${f.reduce((n, [, c]) => n + c, 0)} by JavaScript${f.length ? ` (${f.map(([r, c]) => `${r}: ${c}`).join('; ')})` : ''}`;
  }

  async encode(job: PostBatchJob): Promise<PostBatchResult> {
    const why = ineligible(job, this.expected, (s) => this.schemaText(s));
    if (why) return this.toFallback(job, why);
    // Parts are views of the job's buffer: nothing is copied or transferred.
    const parts = job.data.byteLength > this.jobBytes ? splitJob(job, this.jobBytes, null) : [];
    let result: PostBatchResult | string;
    if (parts.length > 1) {
      const results = await Promise.all(parts.map((p) => this.run(p.job)));
      const unsure = results.find((r): r is string => typeof r === 'string');
      result = unsure ?? mergeParts(parts, results as PostBatchResult[]) ?? (await this.run(job));
    } else {
      result = await this.run(job);
    }
    if (typeof result === 'string') return this.toFallback(job, result);
    this.stats.native++;
    result.recycled = job.data.buffer as ArrayBuffer;
    return result;
  }

  /** One job through the addon: its result, or why JavaScript must encode it. */
  private async run(job: PostBatchJob): Promise<PostBatchResult | string> {
    while (this.running >= this.parallelism) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    let out: NativeOutput;
    try {
      out = await this.encoder.encode(job.data, job.ends, Uint32Array.from(job.segments), {
        keep: (job.normalise.unknownFields ?? 'keep') === 'keep',
        maxMessageBytes: job.normalise.maxMessageBytes ?? 1024 * 1024,
        maxNesting: MAX_NESTING,
        codec: job.settings.codec,
        numIndexedCols: indexedColumns(job.settings.numIndexedCols),
        withIds: job.withIds ?? false,
        createdBy: 'reddit-stream delta writer (parquet-rs)',
      });
    } catch (err) {
      // The addon failed (a bug, not the input's fault): JavaScript encodes
      // the job rather than the flush failing again on every retry.
      const text = (err as Error).message;
      return `${ADDON_ERROR}: ${text.length > 200 ? text.slice(0, 200) + '…' : text}`;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
    if (out.unsure) return out.unsure;
    const dead: PostBatchResult['dead'] = [];
    const check = new PostBatchBuilder(job.normalise);
    for (const index of out.dead) {
      const value = job.data.slice(index === 0 ? 0 : job.ends[index - 1], job.ends[index]);
      const r = check.add(value, index);
      if (r.ok) return 'the addon rejected a message the normaliser accepts';
      dead.push({ index, reason: r.reason, value });
    }
    return {
      files:
        out.parquet && out.stats
          ? [
              {
                dir: '',
                partitionValues: {},
                bytes: out.parquet,
                stats: out.stats,
                numRows: out.rows,
                codec: job.settings.codec,
              },
            ]
          : [],
      rows: out.rows,
      duplicates: out.duplicates,
      dead,
      firstRows: out.firstRows.map((r) => ({
        subreddit: r.subreddit ?? null,
        title: r.title ?? null,
        score: r.score ?? null,
        created_utc: r.createdUtc ?? null,
      })),
      ...(job.withIds ? { ids: out.ids ?? [], segmentRows: out.segmentRows ?? [] } : {}),
    };
  }

  async close(): Promise<void> {
    await this.fallback.close?.();
  }
}

/**
 * The post batch encoder for a service: native when the addon loads (or
 * `choice` is 'native', which then fails with the reason), else JavaScript on
 * `workers` worker threads (0: in the calling thread). `note` says which.
 */
export interface EncoderChoice {
  /** The addon file (default: `defaultAddonPath()`). */
  addonFile?: string;
  /**
   * libuv's thread pool size (UV_THREADPOOL_SIZE, libuv's default 4): native
   * jobs take at most all but two of its threads, so file writes, DNS and
   * zlib of commits never wait behind encoding.
   */
  threadPoolSize?: number;
  /** Told once per reason when a job goes to the JavaScript encoder. */
  onFallback?: (reason: string) => void;
  /**
   * The caller owns the process (a service, not a library user): with the
   * native encoder, also fix glibc's mmap threshold at 128 KiB so freed large
   * blocks go back to the system at once (README, Performance).
   */
  ownsProcess?: boolean;
}

export function choosePostBatchEncoder(
  choice: 'auto' | 'native' | 'js',
  workers: number | undefined,
  options: EncoderChoice = {},
): { encoder: PostBatchEncoder; native: boolean; note: string } {
  const addonFile = options.addonFile;
  const js = (): PostBatchEncoder => (workers === 0 ? inlinePostBatchEncoder : new WorkerPostBatchEncoder(workers));
  if (choice === 'js') return { encoder: js(), native: false, note: 'JavaScript encoder (encoder: js)' };
  const loaded = loadNativeAddon(addonFile);
  if ('error' in loaded) {
    if (choice === 'native') throw new ReddStreamError('ENCODER_UNAVAILABLE', `encoder: native, but ${loaded.error}`);
    return { encoder: js(), native: false, note: `JavaScript encoder: ${loaded.error}` };
  }
  const parallelism = Math.max(1, Math.min(workers ?? defaultPostWorkers(), (options.threadPoolSize ?? 4) - 2));
  const mmap =
    options.ownsProcess && loaded.addon.fixMmapThreshold(128 * 1024) ? '; large blocks unmapped when freed' : '';
  return {
    encoder: new NativePostBatchEncoder(loaded.addon, js(), { parallelism, onFallback: options.onFallback }),
    native: true,
    note: `native encoder, ${parallelism} thread(s)${mmap}`,
  };
}
