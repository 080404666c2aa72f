/**
 * The ingest pipeline, independent of where messages come from (Kafka, the
 * demo's in-process generator, tests): partition buffers -> flush policy ->
 * normalise and encode -> one commit per table with a `txn` per partition.
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
 * - A conflict means another worker advanced the partition: its buffers are
 *   dropped, the committed offset is reloaded, and the source re-seeks.
 * - `revoke` drops a partition's buffer: we never commit data for a partition
 *   we no longer own.
 */
import type { Logger } from '../logger.ts';
import type { StructType } from '../delta/schema.ts';
import type { Spool } from './spool.ts';
import type { NormaliseOptions } from '../reddit/normalise.ts';
import { tableForTopic, txnAppId } from './topics.ts';
import { batchSummary } from './summary.ts';
import { DEAD_LETTER_TABLE } from './dead-letters.ts';
import { dueTopics, msUntilDue, type FlushPolicy, type FlushReason, type SourceState } from './flush-policy.ts';
import type { BatchSummary } from './summary.ts';
import type { TableCatalog } from './tables.ts';
import { packMessages } from './packed-messages.ts';
import { inlinePostBatchEncoder, type PostBatchEncoder, type PostBatchResult } from './post-batch.ts';
import { joinAppenders } from './message-blocks.ts';
import { PartitionBuffers, type PartitionState } from './partition-buffers.ts';
import { attributeDeadLetters, type TakenMessages } from './dead-letter-attribution.ts';
import { BatchCommitter, batchParts, type CommitOutcome } from './batch-committer.ts';
import { planBatch } from './batch-plan.ts';
import { Positions } from './positions.ts';
import { replaySpool } from './spool-replayer.ts';
import type { Maintenance } from './maintenance.ts';
import type { PartitionOwner, SourceMessage } from './ports.ts';

export type { SourceMessage } from './ports.ts';

export interface PipelineOptions {
  group: string;
  policy: FlushPolicy;
  catalog: TableCatalog;
  normalise?: NormaliseOptions;
  log: Logger;
  onBatch?: (summary: BatchSummary) => void;
  /** Told when a flush gave way to another writer of its partitions (the batch is re-read). */
  onConflict?: (table: string) => void;
  clock?: () => number;
  /** Keep batches locally while the table store fails, and replay them later. */
  spool?: Spool;
  /** Where batches are parsed, normalised and encoded (default: this thread). */
  encoder?: PostBatchEncoder;
  /** Compacts tables in the background after commits (none: no automatic maintenance). */
  maintenance?: Maintenance;
}

/** Where the source must read a partition from again (null: where its ownership started). */
export interface Reseek {
  topic: string;
  partition: number;
  offset: bigint | null;
}

export interface FlushOutcome {
  summaries: BatchSummary[];
  /** Partitions to read again (another worker advanced them, or the flush failed). */
  reseek: Reseek[];
  /** Set when a flush failed (the source must re-seek and should back off). */
  error?: Error;
}

export { tableForTopic, txnAppId } from './topics.ts';

const NOTHING: FlushOutcome = { summaries: [], reseek: [] };

export class IngestPipeline implements PartitionOwner {
  private readonly opts: PipelineOptions;
  private readonly clock: () => number;
  private readonly buffers: PartitionBuffers;
  private readonly committer: BatchCommitter;
  private readonly positions: Positions;
  private readonly flushing = new Map<string, Promise<FlushOutcome>>();
  /** Buffers taken by flushes that have not finished. */
  private readonly taken = new Set<PartitionState>();
  /** Bytes of messages taken by flushes that have not finished. */
  inFlightBytes = 0;
  /** Totals since start. */
  readonly totals = {
    rows: 0,
    deadLetters: 0,
    skipped: 0,
    commits: 0,
    firstMessageAt: null as number | null,
    lastCommitAt: null as number | null,
  };

  constructor(opts: PipelineOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
    this.buffers = new PartitionBuffers(this.clock);
    this.committer = new BatchCommitter({ catalog: opts.catalog, log: opts.log, spool: opts.spool });
    this.positions = new Positions(opts.group, opts.spool);
  }

  get spool(): Spool | undefined {
    return this.opts.spool;
  }

  /** The flush policy in force. */
  get policy(): FlushPolicy {
    return this.opts.policy;
  }

  private get encoder(): PostBatchEncoder {
    return this.opts.encoder ?? inlinePostBatchEncoder;
  }

  /** Flushes of one topic the pipeline runs at once: one more than the encoder runs, so a batch waits ready while another commits. */
  get maxFlushesPerTopic(): number {
    return this.encoder.parallelism + 1;
  }

  async assign(topic: string, partition: number): Promise<bigint | null> {
    const table = await this.opts.catalog.postTable(tableForTopic(topic));
    await table.refresh();
    // Spooled batches count as consumed: resume after them (they will be committed in order).
    const committed = this.positions.partition(table, topic, partition);
    this.buffers.own(topic, partition, committed);
    this.opts.log.debug('partition assigned', { topic, partition, committed: committed ?? 'none' });
    return committed === null ? null : committed + 1n;
  }

  revoke(topic: string, partition: number): void {
    const messages = this.buffers.drop(topic, partition);
    if (messages > 0) {
      this.opts.log.info('partition revoked; dropping its uncommitted buffer (the next owner re-reads it)', {
        topic,
        partition,
        messages,
      });
    }
  }

  /**
   * The source has applied a re-seek this pipeline asked for: accept the
   * partition's messages again. Messages pushed between the reset and the
   * seek came from the old position and were refused, so none of the
   * re-read range is skipped.
   */
  reseeked(topic: string, partition: number): void {
    this.buffers.ungate(topic, partition);
  }

  assigned(): Array<{ topic: string; partition: number; committed: bigint | null }> {
    return [...this.buffers.all()].map((p) => ({ topic: p.topic, partition: p.partition, committed: p.committed }));
  }

  /** Buffer one message. False when it was at or below the committed offset (or the partition is not assigned). */
  push(msg: SourceMessage): boolean {
    const r = this.buffers.push(msg);
    if (r === 'duplicate') this.totals.skipped++;
    if (r !== 'buffered') return false;
    this.totals.firstMessageAt ??= this.clock();
    return true;
  }

  /** Topics due for a flush, with the reason (see flush-policy.ts). */
  dueReasons(now = this.clock(), source?: SourceState): Map<string, FlushReason> {
    return dueTopics(this.buffers.all(), now, this.opts.policy, source);
  }

  dueTopics(now = this.clock()): string[] {
    return [...this.dueReasons(now).keys()];
  }

  /** Milliseconds until the earliest latency deadline, or null when nothing is buffered. */
  nextDueInMs(now = this.clock()): number | null {
    let best: number | null = null;
    for (const st of this.buffers.all()) {
      const ms = msUntilDue(st, now, this.opts.policy);
      if (ms !== null && (best === null || ms < best)) best = ms;
    }
    return best;
  }

  bufferedBytes(): number {
    return this.buffers.bufferedBytes();
  }

  buffered(): number {
    return this.buffers.buffered();
  }

  /**
   * Each owned partition: the last offset its table holds, and the producer
   * timestamp (ms) of its oldest message read but not yet committed (null:
   * none), for lag.
   */
  partitions(): Array<{ topic: string; partition: number; committed: bigint | null; oldestPendingAt: number | null }> {
    const oldest = new Map<string, number>();
    const note = (st: PartitionState) => {
      const k = `${st.topic}\u0000${st.partition}`;
      const t = st.timestamps[0];
      if (t !== undefined && !(t >= (oldest.get(k) ?? Infinity))) oldest.set(k, t);
    };
    this.taken.forEach(note);
    const owned = [...this.buffers.all()];
    owned.forEach(note);
    return owned.map((st) => ({
      topic: st.topic,
      partition: st.partition,
      committed: st.committed,
      oldestPendingAt: oldest.get(`${st.topic}\u0000${st.partition}`) ?? null,
    }));
  }

  /** Committed data offsets per partition (to mirror into Kafka for lag tools). */
  committedOffsets(): Array<{ topic: string; partition: number; offset: bigint }> {
    const out = [];
    for (const st of this.buffers.all()) {
      if (st.committed !== null) out.push({ topic: st.topic, partition: st.partition, offset: st.committed });
    }
    return out;
  }

  /** Flush every due topic, one after the other. */
  async flushDue(): Promise<FlushOutcome> {
    return this.flushEach(this.dueReasons());
  }

  /** Flush everything buffered (shutdown, end of input). */
  async flushAll(reason: FlushReason = 'shutdown'): Promise<FlushOutcome> {
    return this.flushEach(new Map([...this.buffers.topics()].map((t) => [t, reason])));
  }

  private async flushEach(topics: Map<string, FlushReason>): Promise<FlushOutcome> {
    const out: FlushOutcome = { summaries: [], reseek: [] };
    for (const [topic, reason] of topics) {
      const r = await this.flushTopic(topic, reason);
      out.summaries.push(...r.summaries);
      out.reseek.push(...r.reseek);
      if (r.error) out.error = r.error;
    }
    return out;
  }

  /** Wait for in-flight flushes (before revoking partitions). */
  async idle(): Promise<void> {
    await Promise.all([...this.flushing.values()].map((p) => p.catch(() => undefined)));
  }

  /**
   * One commit for all buffered partitions of `topic`. The buffers are taken
   * at once and encoded (in parallel with other flushes when the encoder has
   * workers); commits of one topic happen in the order their flushes started.
   */
  async flushTopic(topic: string, reason: FlushReason): Promise<FlushOutcome> {
    const started = performance.now();
    const taken = this.buffers.take(topic);
    if (taken.length === 0) return NOTHING;
    const bytes = taken.reduce((n, st) => n + st.bytes, 0);
    this.inFlightBytes += bytes;
    for (const st of taken) this.taken.add(st);
    const { packed, encoded } = this.startEncoding(topic, taken);
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
      for (const st of taken) this.taken.delete(st);
      if (this.flushing.get(topic) === p) this.flushing.delete(topic);
    }
  }

  /** Pack the taken messages (releasing their blocks) and start encoding them. */
  private startEncoding(topic: string, taken: PartitionState[]) {
    let packed: TakenMessages;
    let encoded: Promise<Encoded>;
    try {
      packed = {
        offsets: taken.flatMap((st) => st.offsets),
        segments: taken.map((st) => st.values.count),
        values: joinAppenders(
          taken.map((st) => st.values),
          this.encoder.buffers,
        ),
        keys: joinAppenders(taken.map((st) => st.keys)),
      };
      encoded = this.encode(topic, packed);
    } catch (err) {
      // e.g. no memory for the buffer: a failed flush like any other (re-read, accounted).
      packed = { values: packMessages([]), keys: packMessages([]), offsets: [], segments: [] };
      encoded = Promise.reject(err);
    }
    for (const st of taken) this.buffers.release(st);
    encoded.catch(() => undefined); // observed in commitStage
    return { packed, encoded };
  }

  /** Stage 1 (parallel): normalise and encode the taken messages, under the schema the table will have. */
  private async encode(topic: string, packed: TakenMessages): Promise<Encoded> {
    const { catalog } = this.opts;
    const table = await catalog.postTable(tableForTopic(topic));
    const evolved = catalog.appendSchema(table);
    const result = await this.encoder.encode({
      data: packed.values.data,
      ends: packed.values.ends,
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
    encoded: Promise<Encoded>,
    reason: FlushReason,
    started: number,
  ): Promise<FlushOutcome> {
    try {
      const { result, schema } = await encoded;
      const stale = await this.dropIfStale(topic, taken);
      if (stale) return stale;
      const dead = attributeDeadLetters(taken, packed, result.dead, this.clock());
      taken.forEach((st, i) => (st.dead = dead[i]));
      return await this.commitBatch(topic, taken, result, schema, reason, started);
    } catch (err) {
      // Nothing of this batch is known to be committed: forget the buffers
      // and re-read from the table's committed offsets (never skip ahead).
      this.opts.log.error('flush failed; will re-read the batch from the last committed offset', {
        topic,
        error: (err as Error).message,
      });
      const reseek = await this.restart(topic, this.buffers.stillOwned(taken), { orFromMemory: true });
      return { summaries: [], reseek, error: err as Error };
    }
  }

  /**
   * Partitions revoked or reset since the buffers were taken: the batch must
   * not be committed; the partitions still ours restart from the table.
   */
  private async dropIfStale(topic: string, taken: PartitionState[]): Promise<FlushOutcome | null> {
    const current = this.buffers.stillOwned(taken);
    if (current.length === taken.length) return null;
    if (current.length === 0) return NOTHING;
    this.opts.log.info('partitions changed owner or were reset during a flush; dropping the batch and re-reading', {
      topic,
    });
    return { summaries: [], reseek: await this.restart(topic, current) };
  }

  private async commitBatch(
    topic: string,
    taken: PartitionState[],
    result: PostBatchResult,
    schema: StructType | undefined,
    reason: FlushReason,
    started: number,
  ): Promise<FlushOutcome> {
    const tableName = tableForTopic(topic);
    const table = await this.opts.catalog.postTable(tableName);
    const queued = this.opts.spool?.hasPendingForTopic(topic) ?? false;
    const prepared = await planBatch(this.opts.catalog, this.positions, { table, taken, result, schema, queued });
    if (prepared.kind === 'conflict') return this.conflicted(topic, tableName, taken, prepared.reason);
    if (!queued) {
      const stale = await this.dropIfStale(topic, taken);
      if (stale) return stale;
    }
    const outcome = await this.committer.commit(batchParts(tableName, prepared.data, prepared.dead), topic);
    if (outcome.kind === 'conflict') return this.conflicted(topic, tableName, taken, outcome.reason);
    this.reportCommit(taken, outcome);
    if (outcome.kind === 'committed') this.opts.maintenance?.afterCommit(table);
    this.buffers.markCommitted(taken);
    const summary = batchSummary(tableName, taken, result, outcome, reason, started, this.clock());
    this.count(summary);
    this.opts.onBatch?.(summary);
    return { summaries: [summary], reseek: [] };
  }

  private async conflicted(topic: string, table: string, taken: PartitionState[], reason: string) {
    this.opts.onConflict?.(table);
    this.opts.log.warn('another worker advanced these partitions; dropping our batch and re-seeking from the table', {
      table,
      reason,
    });
    return { summaries: [], reseek: await this.restart(topic, taken) };
  }

  private reportCommit(taken: PartitionState[], outcome: CommitOutcome): void {
    if (outcome.kind !== 'committed') return;
    if (outcome.versions.has(DEAD_LETTER_TABLE)) {
      for (const d of taken.flatMap((st) => st.dead)) {
        this.opts.log.warn('dead letter', { topic: d.topic, partition: d.partition, offset: d.offset, error: d.error });
      }
    }
    for (const [name, err] of outcome.checkpointErrors) {
      this.opts.log.warn('checkpoint failed (the commit itself succeeded)', { table: name, error: err.message });
    }
  }

  private count(s: BatchSummary): void {
    this.totals.rows += s.rows;
    this.totals.deadLetters += s.deadLetters;
    this.totals.commits++;
    this.totals.lastCommitAt = this.clock();
  }

  /** Commit the spooled batches, oldest first; partitions whose spooled data was overtaken are re-read. */
  async replaySpool(): Promise<{ replayed: number; remaining: number; error?: Error; reseek: Reseek[] }> {
    const { spool, catalog, log, group } = this.opts;
    if (!spool) return { replayed: 0, remaining: 0, reseek: [] };
    const r = await replaySpool(spool, catalog, log, (t) => this.opts.maintenance?.afterCommit(t));
    const reseek: Reseek[] = [];
    const owned = [...this.buffers.all()].filter((st) => r.dropped.has(txnAppId(group, st.topic, st.partition)));
    for (const topic of new Set(owned.map((st) => st.topic))) {
      const mine = owned.filter((st) => st.topic === topic);
      // Nothing committed: null sends the source back to where its ownership started.
      const again = mine.map((st) => ({ ...st, firstOffset: null }));
      reseek.push(...(await this.restart(topic, again, { orSkip: true })));
    }
    return { replayed: r.replayed, remaining: r.remaining, error: r.error, reseek };
  }

  /**
   * Restart partitions of `topic` from what the tables hold: each is reset
   * (gated until the source re-seeks) and read again after its committed
   * offset, or, with nothing committed, from `firstOffset` (the batch's
   * first message; null: where the ownership started). When the table
   * cannot be read: `orFromMemory` restarts after the offset this pipeline
   * last committed; `orSkip` leaves the partitions alone (a later attempt
   * retries); with neither, the error is thrown.
   */
  private async restart(
    topic: string,
    partitions: Array<Pick<PartitionState, 'topic' | 'partition' | 'firstOffset' | 'committed'>>,
    fallback: { orFromMemory?: boolean; orSkip?: boolean } = {},
  ): Promise<Reseek[]> {
    let committedOf: (st: (typeof partitions)[number]) => bigint | null;
    try {
      const table = await this.opts.catalog.postTable(tableForTopic(topic));
      await table.refresh();
      committedOf = (st) => this.positions.partition(table, st.topic, st.partition);
    } catch (err) {
      if (fallback.orSkip) return [];
      if (!fallback.orFromMemory) throw err;
      // Earlier flushes may have advanced the partition since this batch was taken.
      committedOf = (st) => this.buffers.get(st.topic, st.partition)?.committed ?? st.committed;
    }
    return partitions.map((st) => {
      const committed = committedOf(st);
      this.buffers.reset(st.topic, st.partition, committed);
      return { topic: st.topic, partition: st.partition, offset: committed === null ? st.firstOffset : committed + 1n };
    });
  }
}

type Encoded = { result: PostBatchResult; schema: StructType | undefined };
