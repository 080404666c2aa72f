/**
 * The ingest pipeline, independent of where messages come from (Kafka, the
 * demo's in-process generator, tests): per-partition buffers -> flush policy
 * -> normalise -> one Delta commit per table with a `txn` per partition.
 *
 * Exactly-once invariants (docs/DESIGN.md, "Ingest"):
 * - The committed position of topic-partition P for consumer group G is the
 *   `txn` version of app id `<G>-<topic>-<P>` in the partition's table; it is
 *   the offset of the last message accounted for (written, dead-lettered, or
 *   skipped). `assign` reads it and says where to resume.
 * - A message at or below the committed offset is dropped (`push` -> false).
 * - Dead letters are committed to `_dead_letters` (with their own txn per
 *   partition) *before* the data commit; resuming from the data table's txn
 *   re-reads at most one batch, and each table skips what it already has.
 * - A txn conflict means another worker advanced the partition: its buffers
 *   are dropped, the committed offset is reloaded, and the source re-seeks.
 * - `revoke` drops a partition's buffer: we never commit data for a partition
 *   we no longer own.
 */
import type { Logger } from '../logger.ts';
import type { AppendResult, DeltaTable, PreparedAppend } from '../delta/table.ts';
import type { StructType } from '../delta/schema.ts';
import { describeError, ReddStreamError } from '../errors.ts';
import type { Spool, SpoolPart } from './spool.ts';
import type { NormaliseOptions } from '../reddit/normalise.ts';
import { isValidSubreddit } from '../reddit/subreddit.ts';
import { DEAD_LETTER_TABLE, deadLetterBatch, type DeadLetter } from './dead-letters.ts';
import { msUntilDue, shouldFlush, type FlushPolicy } from './flush-policy.ts';
import type { BatchSummary } from './summary.ts';
import type { TableCatalog } from './tables.ts';
import {
  inlinePostBatchEncoder,
  packedEntry,
  packMessages,
  type Packed,
  type PostBatchEncoder,
  type PostBatchResult,
} from './post-batch.ts';
import { BlockAppender, BlockPool, joinAppenders } from './message-blocks.ts';

export interface SourceMessage {
  topic: string;
  partition: number;
  offset: bigint;
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** Broker or producer timestamp, ms. */
  timestamp?: number;
}

export interface PipelineOptions {
  group: string;
  policy: FlushPolicy;
  catalog: TableCatalog;
  normalise?: NormaliseOptions;
  log: Logger;
  onBatch?: (summary: BatchSummary) => void;
  clock?: () => number;
  /** Keep batches locally while the table store fails, and replay them later. */
  spool?: Spool;
  /** Where batches are parsed, normalised and encoded (default: this thread). */
  encoder?: PostBatchEncoder;
}

/**
 * A flush's messages, packed when the buffers are taken so the source's
 * buffers (e.g. Kafka fetch responses) are released right away: values go
 * to the encoder; offsets and keys stay here for dead letters.
 */
interface TakenMessages {
  values: Packed;
  keys: Packed & { nulls: Uint8Array | null };
  offsets: bigint[];
  segments: number[];
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Last offset committed to the table (data), null when none. */
  committed: bigint | null;
  /** The offset the table holds for this partition once every earlier batch is committed: the `expect` of this buffer's commit. */
  base: bigint | null;
  /** Ownership generation: changes when the partition is (re)assigned or reset; batches of an older one are never committed. */
  epoch: number;
  /** Values of the messages to normalise (in offset order), copied on arrival (see message-blocks.ts). */
  values: BlockAppender;
  /** Their keys and offsets (for dead letters and positions). */
  keys: BlockAppender;
  offsets: bigint[];
  /** Dead letters known on arrival (empty messages). */
  dead: DeadLetter[];
  /**
   * Reset and waiting for the source to re-seek (see `reseeked`): until then
   * messages are refused, they were fetched from the old position.
   */
  gated: boolean;
  messages: number;
  bytes: number;
  firstAt: number | null;
  firstOffset: bigint | null;
  lastOffset: bigint | null;
  skipped: number;
  /** Producer/broker timestamps (ms) of buffered messages, for end-to-end latency. */
  timestamps: number[];
}

export interface FlushOutcome {
  summaries: BatchSummary[];
  /** Partitions another worker advanced: re-seek them to `offset`. */
  reseek: Array<{ topic: string; partition: number; offset: bigint | null }>;
  /** Set when a flush failed (the source must re-seek and should back off). */
  error?: Error;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

function deadLetter(msg: SourceMessage, error: string, failedAt: number): DeadLetter {
  return {
    source: 'kafka',
    topic: msg.topic,
    partition: msg.partition,
    offset: msg.offset,
    key: msg.key,
    value: msg.value,
    error,
    failedAt,
  };
}

/** Another worker owns the partitions now: re-seek, never spool. */
class ConflictError extends Error {}

/** Failures of the table store itself (unreachable, 5xx, refused), as opposed to bad data or conflicts. */
export function isStorageFailure(err: unknown): boolean {
  if (err instanceof ConflictError) return false;
  if (err instanceof ReddStreamError) return err.code === 'STORAGE' || err.code === 'COMMIT_FAILED';
  const code = (err as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** Table name for a topic: `reddit_<sub>` -> `<sub>` (lower-cased). */
export function tableForTopic(topic: string): string {
  const sub = topic.startsWith('reddit_') ? topic.slice('reddit_'.length) : topic;
  if (!isValidSubreddit(sub)) throw new Error(`topic ${JSON.stringify(topic)} does not name a valid subreddit table`);
  return sub.toLowerCase();
}

export function txnAppId(group: string, topic: string, partition: number): string {
  return `${group}-${topic}-${partition}`;
}

export class IngestPipeline {
  private readonly opts: PipelineOptions;
  private readonly clock: () => number;
  private readonly parts = new Map<string, PartitionState>();
  private readonly flushing = new Map<string, Promise<FlushOutcome>>();
  private readonly valueBlocks = new BlockPool(16 << 10, 1 << 20, 32 << 20);
  private readonly keyBlocks = new BlockPool(1 << 10, 64 << 10, 1 << 20);
  /** Totals since start. */
  readonly totals: {
    rows: number;
    deadLetters: number;
    skipped: number;
    commits: number;
    firstMessageAt: number | null;
    lastCommitAt: number | null;
  } = { rows: 0, deadLetters: 0, skipped: 0, commits: 0, firstMessageAt: null, lastCommitAt: null };

  constructor(opts: PipelineOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
  }

  get spool(): Spool | undefined {
    return this.opts.spool;
  }

  /** Take ownership of a partition; returns the next offset to read, or null (use auto_offset_reset). */
  async assign(topic: string, partition: number): Promise<bigint | null> {
    const table = await this.opts.catalog.postTable(tableForTopic(topic));
    await table.refresh();
    // Spooled batches count as consumed: resume after them (they will be committed in order).
    const committed = this.position(table, topic, partition);
    this.replace(topic, partition, this.fresh(topic, partition, committed));
    this.opts.log.debug('partition assigned', { topic, partition, committed: committed ?? 'none' });
    return committed === null ? null : committed + 1n;
  }

  /** Give up a partition: its buffered messages are dropped, never committed. */
  revoke(topic: string, partition: number): void {
    const st = this.parts.get(key(topic, partition));
    if (st && st.messages > 0) {
      this.opts.log.info('partition revoked; dropping its uncommitted buffer (the next owner re-reads it)', {
        topic,
        partition,
        messages: st.messages,
      });
    }
    this.replace(topic, partition, null);
  }

  /**
   * The source has applied a re-seek this pipeline asked for (a `reseek`
   * entry of a flush or replay outcome): accept the partition's messages
   * again. Messages pushed between the reset and the seek came from the old
   * position and were refused, so none of the re-read range is skipped.
   */
  reseeked(topic: string, partition: number): void {
    const st = this.parts.get(key(topic, partition));
    if (st) st.gated = false;
  }

  assigned(): Array<{ topic: string; partition: number; committed: bigint | null }> {
    return [...this.parts.values()].map((p) => ({ topic: p.topic, partition: p.partition, committed: p.committed }));
  }

  /** Buffer one message. False when it was at or below the committed offset (or the partition is not assigned). */
  push(msg: SourceMessage): boolean {
    const st = this.parts.get(key(msg.topic, msg.partition));
    if (!st || st.gated) return false;
    if (
      (st.committed !== null && msg.offset <= st.committed) ||
      (st.lastOffset !== null && msg.offset <= st.lastOffset)
    ) {
      st.skipped++;
      this.totals.skipped++;
      return false;
    }
    const now = this.clock();
    if (st.firstAt === null) {
      st.firstAt = now;
      st.firstOffset = msg.offset;
    }
    st.lastOffset = msg.offset;
    st.messages++;
    st.timestamps.push(msg.timestamp ?? now);
    if (this.totals.firstMessageAt === null) this.totals.firstMessageAt = now;
    st.bytes += msg.value?.byteLength ?? 0;
    if (msg.value === null || msg.value.byteLength === 0) {
      // A copy of the key: the source's buffer is not held past this call.
      // (Uint8Array's slice: a Buffer's slice is a view.)
      st.dead.push(
        deadLetter(
          { ...msg, key: msg.key && Uint8Array.prototype.slice.call(msg.key) },
          'empty message (no value)',
          now,
        ),
      );
    } else {
      st.values.append(msg.value);
      st.keys.append(msg.key);
      st.offsets.push(msg.offset);
    }
    return true;
  }

  /** Topics with at least one partition due for a flush. */
  dueTopics(now = this.clock()): string[] {
    return [...this.dueReasons(now).keys()];
  }

  /** Milliseconds until the earliest latency deadline, or null when nothing is buffered. */
  nextDueInMs(now = this.clock()): number | null {
    let best: number | null = null;
    for (const st of this.parts.values()) {
      const ms = msUntilDue(st, now, this.opts.policy);
      if (ms !== null && (best === null || ms < best)) best = ms;
    }
    return best;
  }

  /**
   * Topics due for a flush with the reason (messages, bytes, latency). The
   * byte limit holds per table (all partitions of a topic share one commit),
   * which bounds memory however many partitions are assigned.
   */
  dueReasons(now = this.clock()): Map<string, string> {
    const out = new Map<string, string>();
    const bytes = new Map<string, number>();
    for (const st of this.parts.values()) {
      const r = shouldFlush(st, now, this.opts.policy);
      if (r && !out.has(st.topic)) out.set(st.topic, r);
      bytes.set(st.topic, (bytes.get(st.topic) ?? 0) + st.bytes);
    }
    for (const [topic, b] of bytes) if (b >= this.opts.policy.maxBytes && !out.has(topic)) out.set(topic, 'bytes');
    return out;
  }

  /** The flush policy in force. */
  get policy(): FlushPolicy {
    return this.opts.policy;
  }

  /** Topics whose partition buffers hold at least `minBytes` together. */
  topicsHolding(minBytes: number): string[] {
    const bytes = new Map<string, number>();
    for (const st of this.parts.values()) bytes.set(st.topic, (bytes.get(st.topic) ?? 0) + st.bytes);
    return [...bytes].filter(([, b]) => b > 0 && b >= minBytes).map(([t]) => t);
  }

  bufferedBytes(): number {
    let n = 0;
    for (const st of this.parts.values()) n += st.bytes;
    return n;
  }

  buffered(): number {
    let n = 0;
    for (const st of this.parts.values()) n += st.messages;
    return n;
  }

  /** Flush every due topic. */
  async flushDue(): Promise<FlushOutcome> {
    const out: FlushOutcome = { summaries: [], reseek: [] };
    for (const [topic, reason] of this.dueReasons()) {
      const r = await this.flushTopic(topic, reason);
      out.summaries.push(...r.summaries);
      out.reseek.push(...r.reseek);
      if (r.error) out.error = r.error;
    }
    return out;
  }

  /** Flush everything buffered (shutdown, idle). */
  async flushAll(reason = 'shutdown'): Promise<FlushOutcome> {
    const out: FlushOutcome = { summaries: [], reseek: [] };
    const topics = new Set([...this.parts.values()].filter((p) => p.messages > 0).map((p) => p.topic));
    for (const topic of topics) {
      const r = await this.flushTopic(topic, reason);
      out.summaries.push(...r.summaries);
      out.reseek.push(...r.reseek);
      if (r.error) out.error = r.error;
    }
    return out;
  }

  /** Committed data offsets per partition (to mirror into Kafka for lag tools). */
  committedOffsets(): Array<{ topic: string; partition: number; offset: bigint }> {
    const out = [];
    for (const st of this.parts.values()) {
      if (st.committed !== null) out.push({ topic: st.topic, partition: st.partition, offset: st.committed });
    }
    return out;
  }

  /** Flushes of one topic the pipeline runs at once (encoding in parallel, commits in order). */
  get maxFlushesPerTopic(): number {
    // One more than the encoder runs at once: a batch waits ready while another commits.
    return this.encoder.parallelism + 1;
  }

  /**
   * One commit for all buffered partitions of `topic`. The buffers are taken
   * at once and encoded (in parallel with other flushes when the encoder has
   * workers); commits of one topic happen in the order their flushes started.
   */
  async flushTopic(topic: string, reason: string): Promise<FlushOutcome> {
    const started = performance.now();
    const taken = this.take(topic);
    if (taken.length === 0) return { summaries: [], reseek: [] };
    const bytes = taken.reduce((n, st) => n + st.bytes, 0);
    this.inFlightBytes += bytes;
    let packed: TakenMessages;
    let encoded: ReturnType<IngestPipeline['encodeTaken']>;
    try {
      const segments = taken.map((st) => st.values.count);
      packed = {
        offsets: taken.flatMap((st) => st.offsets),
        segments,
        values: joinAppenders(
          taken.map((st) => st.values),
          this.encoder.buffers,
        ),
        keys: joinAppenders(taken.map((st) => st.keys)),
      };
      encoded = this.encodeTaken(topic, packed);
    } catch (err) {
      // e.g. no memory for the buffer: a failed flush like any other (re-read, accounted).
      packed = { values: packMessages([]), keys: packMessages([]), offsets: [], segments: [] };
      encoded = Promise.reject(err);
    }
    for (const st of taken) this.release(st);
    encoded.catch(() => undefined); // observed in commitStage
    const prev = this.flushing.get(topic);
    const p = (async () => {
      if (prev) await prev.catch(() => undefined);
      return this.commitStage(topic, taken, packed, encoded, reason, started);
    })();
    this.flushing.set(topic, p);
    try {
      return await p;
    } finally {
      this.inFlightBytes -= bytes;
      if (this.flushing.get(topic) === p) this.flushing.delete(topic);
    }
  }

  /** Bytes of messages taken by flushes that have not finished. */
  inFlightBytes = 0;

  /** Wait for in-flight flushes (before revoking partitions). */
  async idle(): Promise<void> {
    await Promise.all([...this.flushing.values()].map((p) => p.catch(() => undefined)));
  }

  private epochs = 0;

  /** Reset a partition we still own to `committed`, refusing messages until the source re-seeks. */
  private reset(topic: string, partition: number, committed: bigint | null): void {
    if (!this.parts.has(key(topic, partition))) return;
    const st = this.fresh(topic, partition, committed);
    st.gated = true;
    this.replace(topic, partition, st);
  }

  /** Set (or with null, remove) a partition's state; the state it replaces gives its blocks back. */
  private replace(topic: string, partition: number, st: PartitionState | null): void {
    const k = key(topic, partition);
    const old = this.parts.get(k);
    if (old) this.release(old);
    if (st) this.parts.set(k, st);
    else this.parts.delete(k);
  }

  private release(st: PartitionState): void {
    st.values.release();
    st.keys.release();
    st.offsets = [];
  }

  private fresh(topic: string, partition: number, committed: bigint | null): PartitionState {
    return {
      topic,
      partition,
      committed,
      base: committed,
      epoch: ++this.epochs,
      gated: false,
      values: new BlockAppender(this.valueBlocks),
      keys: new BlockAppender(this.keyBlocks),
      offsets: [],
      dead: [],
      messages: 0,
      bytes: 0,
      firstAt: null,
      firstOffset: null,
      lastOffset: null,
      skipped: 0,
      timestamps: [],
    };
  }

  private get encoder(): PostBatchEncoder {
    return this.opts.encoder ?? inlinePostBatchEncoder;
  }

  /** Take the buffers of `topic`; new messages go to fresh buffers (same ownership) meanwhile. */
  private take(topic: string): PartitionState[] {
    const taken: PartitionState[] = [];
    for (const [k, st] of this.parts) {
      if (st.topic !== topic || st.messages === 0) continue;
      taken.push(st);
      const next = this.fresh(st.topic, st.partition, st.committed);
      next.epoch = st.epoch;
      next.base = st.lastOffset;
      next.lastOffset = st.lastOffset;
      this.parts.set(k, next);
    }
    return taken;
  }

  /** Stage 1 (parallel): normalise and encode the taken messages, under the schema the table will have. */
  private async encodeTaken(
    topic: string,
    packed: TakenMessages,
  ): Promise<{ result: PostBatchResult; schema: StructType | undefined }> {
    const { catalog } = this.opts;
    const table = await catalog.postTable(tableForTopic(topic));
    const evolved = catalog.appendSchema(table);
    const { data, ends } = packed.values;
    const result = await this.encoder.encode({
      data,
      ends,
      segments: packed.segments,
      normalise: this.opts.normalise ?? {},
      schema: evolved ?? table.schema,
      partitionColumns: table.snapshot.partitionColumns,
      settings: table.encodeSettings(),
    });
    this.encoder.buffers?.release(result.recycled);
    return { result, schema: evolved };
  }

  /** Stage 2 (in order per topic): dead letters, then the data commit, or the spool. */
  private async commitStage(
    topic: string,
    taken: PartitionState[],
    packed: TakenMessages,
    encoded: ReturnType<IngestPipeline['encodeTaken']>,
    reason: string,
    started: number,
  ): Promise<FlushOutcome> {
    try {
      const { result, schema } = await encoded;
      const stale = await this.dropIfStale(topic, taken);
      if (stale) return stale;
      return await this.commitTaken(topic, taken, packed, result, schema, reason, started);
    } catch (err) {
      // Nothing of this batch is known to be committed: forget the buffers
      // and re-read from the table's committed offsets (never skip ahead).
      this.opts.log.error('flush failed; will re-read the batch from the last committed offset', {
        topic,
        error: (err as Error).message,
      });
      const mine = this.stillOwned(taken);
      let reseek: FlushOutcome['reseek'];
      try {
        reseek = await this.reload(await this.opts.catalog.postTable(tableForTopic(topic)), mine);
      } catch {
        reseek = mine.map((st) => {
          // The table cannot be read: restart after what we know is committed (earlier flushes may have advanced it).
          const committed = this.parts.get(key(st.topic, st.partition))?.committed ?? st.committed;
          this.reset(st.topic, st.partition, committed);
          return {
            topic: st.topic,
            partition: st.partition,
            offset: committed === null ? st.firstOffset : committed + 1n,
          };
        });
      }
      return { summaries: [], reseek, error: err as Error };
    }
  }

  /** The taken buffers whose partitions were neither revoked nor reset since they were taken. */
  private stillOwned(taken: PartitionState[]): PartitionState[] {
    return taken.filter((st) => this.parts.get(key(st.topic, st.partition))?.epoch === st.epoch);
  }

  /**
   * Partitions revoked or reset since the buffers were taken: the batch must
   * not be committed; the partitions still ours restart from the table.
   */
  private async dropIfStale(topic: string, taken: PartitionState[]): Promise<FlushOutcome | null> {
    const current = this.stillOwned(taken);
    if (current.length === taken.length) return null;
    if (current.length === 0) return { summaries: [], reseek: [] };
    this.opts.log.info('partitions changed owner or were reset during a flush; dropping the batch and re-reading', {
      topic,
    });
    return {
      summaries: [],
      reseek: await this.reload(await this.opts.catalog.postTable(tableForTopic(topic)), current),
    };
  }

  private async commitTaken(
    topic: string,
    taken: PartitionState[],
    packed: TakenMessages,
    result: PostBatchResult,
    schema: StructType | undefined,
    reason: string,
    started: number,
  ): Promise<FlushOutcome> {
    const tableName = tableForTopic(topic);
    const { catalog, group, log, spool } = this.opts;
    const table = await catalog.postTable(tableName);
    const txns = taken.map((st) => ({
      appId: txnAppId(group, st.topic, st.partition),
      version: Number(st.lastOffset!),
      // The table must still be where this worker left it: otherwise another
      // worker owned the partition meanwhile and committed part of this range.
      expect: st.base === null ? null : Number(st.base),
    }));
    // Dead letters of each partition in offset order: those known on arrival and those the encoder found.
    const found = new Map<PartitionState, DeadLetter[]>();
    const starts: number[] = [];
    let n = 0;
    for (const count of packed.segments) {
      starts.push(n);
      n += count;
    }
    const failedAt = this.clock();
    for (const d of result.dead) {
      let j = taken.length - 1;
      while (starts[j] > d.index) j--;
      const st = taken[j];
      const k = packed.keys.nulls?.[d.index] ? null : packedEntry(packed.keys, d.index).slice();
      let list = found.get(st);
      if (!list) found.set(st, (list = []));
      list.push(
        deadLetter(
          { topic: st.topic, partition: st.partition, offset: packed.offsets[d.index], key: k, value: d.value },
          d.reason,
          failedAt,
        ),
      );
    }
    for (const st of taken) {
      const more = found.get(st);
      if (more) {
        st.dead = [...st.dead, ...more].sort((x, y) => (x.offset < y.offset ? -1 : x.offset > y.offset ? 1 : 0));
      }
    }
    const dead = taken.flatMap((st) => st.dead);
    const dlqPrep = dead.length > 0 ? await this.prepareDeadLetters(taken) : null;
    // Behind spooled batches the table is not at `expect` yet: check at commit (replay) time only.
    const queued = spool?.hasPendingForTopic(topic) ?? false;
    const prep = await table.prepareEncodedAppend(result.files, {
      txns,
      schema,
      operation: 'STREAMING UPDATE',
      commitInfo: { engineInfo: `reddit-stream ingest (group ${group})` },
      prepareTxnCheck: !queued,
    });
    if ('kind' in prep) {
      log.warn('another worker advanced these partitions; dropping our batch and re-seeking from the table', {
        table: tableName,
        reason: prep.reason,
      });
      return { summaries: [], reseek: await this.reload(table, taken) };
    }
    // Dead letters first (their own txn per partition), so a crash between the
    // two commits re-delivers them and the table's txn filters repeats.
    const parts: SpoolPart[] = [];
    if (dlqPrep) parts.push({ table: DEAD_LETTER_TABLE, prepared: dlqPrep });
    parts.push({ table: tableName, prepared: prep });
    let version: number | null = null;
    let spooled = false;
    if (spool && queued) {
      // Keep commit order: while older batches of this topic wait in the spool, newer ones queue behind them.
      await spool.add([topic], parts);
      spooled = true;
    } else {
      const stale = await this.dropIfStale(topic, taken);
      if (stale) return stale;
      let done = 0;
      try {
        for (const part of parts) {
          const isDead = part.table === DEAD_LETTER_TABLE;
          const t = isDead ? await catalog.deadLetterTable() : table;
          const r = await t.commitPrepared(part.prepared);
          if (r.kind === 'conflict') {
            // Another worker advanced these partitions: committing our data could
            // skip dead letters it has not seen, or duplicate its range. Re-seek.
            if (isDead) throw new ConflictError(`dead-letter table conflict: ${r.reason}`);
            log.warn('another worker advanced these partitions; dropping our batch and re-seeking from the table', {
              table: tableName,
              reason: r.reason,
            });
            return { summaries: [], reseek: await this.reload(table, taken) };
          }
          if (isDead) {
            for (const d of dead) {
              log.warn('dead letter', { topic: d.topic, partition: d.partition, offset: d.offset, error: d.error });
            }
          } else {
            version = r.version;
            if (r.checkpointError) {
              log.warn('checkpoint failed (the commit itself succeeded)', {
                table: tableName,
                error: r.checkpointError.message,
              });
            }
          }
          done++;
        }
      } catch (err) {
        if (!spool || !isStorageFailure(err)) throw err;
        if (spool.full()) throw err;
        await spool.add([topic], parts.slice(done));
        spooled = true;
        log.warn(
          'the table store is failing: the batch is kept in the local spool and will be committed, in order, when the store answers; consumption continues',
          {
            table: tableName,
            error: describeError(err),
            spooled_batches: spool.size,
            spooled_mb: (spool.bytes / 1e6).toFixed(1),
          },
        );
      }
    }
    for (const st of taken) {
      const cur = this.parts.get(key(st.topic, st.partition));
      if (cur && cur.epoch === st.epoch) cur.committed = st.lastOffset;
    }
    const ms = performance.now() - started;
    const committedAt = this.clock();
    const summary: BatchSummary = {
      table: tableName,
      version,
      spooled,
      rows: result.rows,
      deadLetters: dead.length,
      duplicates: result.duplicates,
      skipped: taken.reduce((s, st) => s + st.skipped, 0),
      partitions: taken.map((st) => ({
        topic: st.topic,
        partition: st.partition,
        from: st.firstOffset!,
        to: st.lastOffset!,
      })),
      ms,
      reason,
      ages: taken.flatMap((st) => st.timestamps.map((t) => committedAt - t)),
      firstRows: result.firstRows,
    };
    this.totals.rows += result.rows;
    this.totals.deadLetters += dead.length;
    this.totals.commits++;
    this.totals.lastCommitAt = committedAt;
    this.opts.onBatch?.(summary);
    return { summaries: [summary], reseek: [] };
  }

  private async prepareDeadLetters(taken: PartitionState[]): Promise<PreparedAppend | null> {
    const { catalog, group } = this.opts;
    const dlq = await catalog.deadLetterTable();
    await dlq.refresh().catch(() => undefined);
    const letters: DeadLetter[] = [];
    const txns: Array<{ appId: string; version: number; expect: number | null }> = [];
    for (const st of taken) {
      if (st.dead.length === 0) continue;
      const appId = txnAppId(group, st.topic, st.partition);
      const have = this.txnPosition(dlq, DEAD_LETTER_TABLE, appId);
      const fresh = st.dead.filter((d) => d.offset > BigInt(have));
      if (fresh.length === 0) continue;
      letters.push(...fresh);
      // Like data commits, dead-letter commits expect the version they filtered
      // against: a worker that raced us to this partition's dead letters makes
      // this a conflict (re-seek), never a second copy of its letters.
      txns.push({ appId, version: Number(fresh[fresh.length - 1].offset), expect: have < 0 ? null : have });
    }
    if (letters.length === 0) return null;
    const prep = await dlq.prepareAppend(deadLetterBatch(letters), { txns, operation: 'STREAMING UPDATE' });
    if ('kind' in prep) throw new ConflictError(`dead-letter table conflict: ${prep.reason}`);
    return prep;
  }

  /**
   * Commit spooled batches, oldest first. Stops at the first storage failure
   * (the store is still down). A spooled commit that already landed (crash
   * before cleanup) or that another worker overtook is removed.
   */
  async replaySpool(): Promise<{ replayed: number; remaining: number; error?: Error; reseek: FlushOutcome['reseek'] }> {
    const { spool, catalog, log } = this.opts;
    if (!spool) return { replayed: 0, remaining: 0, reseek: [] };
    let replayed = 0;
    const dropped = new Set<string>();
    for (;;) {
      const entry = await spool.oldest();
      if (!entry) break;
      for (let i = 0; i < entry.parts.length; i++) {
        const part = entry.parts[i];
        let r: AppendResult;
        let t: DeltaTable;
        try {
          t = part.table === DEAD_LETTER_TABLE ? await catalog.deadLetterTable() : await catalog.postTable(part.table);
          r = await t.commitPrepared(part.prepared);
        } catch (err) {
          return { replayed, remaining: spool.size, error: err as Error, reseek: await this.reseekDropped(dropped) };
        }
        if (r.kind === 'conflict') {
          const applied = part.prepared.txns.every((x) => t.snapshot.txnVersion(x.appId) === x.version);
          if (applied) {
            log.info('spooled batch was already committed (before a restart); removing it from the spool', {
              table: part.table,
              seq: entry.seq,
            });
          } else {
            log.warn('spooled batch was overtaken by another worker that re-read these offsets; dropping it', {
              table: part.table,
              seq: entry.seq,
              reason: r.reason,
            });
            if (part.table !== DEAD_LETTER_TABLE) for (const x of part.prepared.txns) dropped.add(x.appId);
          }
        } else {
          log.info('spooled batch committed', {
            table: part.table,
            version: r.version,
            rows: part.prepared.rows,
            seq: entry.seq,
          });
        }
        await spool.complete(entry.seq, i + 1);
      }
      replayed++;
    }
    if (replayed) {
      log.info('spool replayed: the table store is answering again; back to direct commits', { batches: replayed });
    }
    return { replayed, remaining: spool.size, reseek: await this.reseekDropped(dropped) };
  }

  /** Partitions we still own whose spooled batches were dropped: restart them from the table. */
  private async reseekDropped(appIds: Set<string>): Promise<FlushOutcome['reseek']> {
    const out: FlushOutcome['reseek'] = [];
    if (appIds.size === 0) return out;
    for (const st of [...this.parts.values()]) {
      if (!appIds.has(txnAppId(this.opts.group, st.topic, st.partition))) continue;
      try {
        const table = await this.opts.catalog.postTable(tableForTopic(st.topic));
        await table.refresh();
        const committed = this.position(table, st.topic, st.partition);
        this.reset(st.topic, st.partition, committed);
        // Nothing committed: null sends the source back to where its ownership started (the reset policy's offset then).
        out.push({ topic: st.topic, partition: st.partition, offset: committed === null ? null : committed + 1n });
      } catch {
        // the store failed again: the next replay attempt retries
      }
    }
    return out;
  }

  /** Where a partition's data stands: the table's txn, or further when batches wait in the spool (they commit in order). */
  private position(table: DeltaTable, topic: string, partition: number): bigint | null {
    const v = this.txnPosition(table, tableForTopic(topic), txnAppId(this.opts.group, topic, partition));
    return v < 0 ? null : BigInt(v);
  }

  /** The txn version of `appId` in `table` (named `name` under the root), counting spooled commits; -1 when none. */
  private txnPosition(table: DeltaTable, name: string, appId: string): number {
    return Math.max(table.snapshot.txnVersion(appId) ?? -1, this.opts.spool?.positions(name).get(appId) ?? -1);
  }

  private async reload(table: DeltaTable, taken: PartitionState[]) {
    await table.refresh();
    const out: FlushOutcome['reseek'] = [];
    for (const st of taken) {
      const committed = this.position(table, st.topic, st.partition);
      this.reset(st.topic, st.partition, committed);
      // Nothing committed yet: re-read from the batch's first offset, never from the reset policy.
      out.push({
        topic: st.topic,
        partition: st.partition,
        offset: committed === null ? st.firstOffset : committed + 1n,
      });
    }
    return out;
  }
}
