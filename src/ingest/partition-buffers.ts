/**
 * Partition buffers (pure, in memory): the messages of each owned
 * topic-partition waiting for a flush, and where the partition stands.
 *
 * Invariants:
 * - A partition is buffered only while it is owned (`own` .. `drop`).
 * - `committed` is the offset the tables hold for the partition; a message at
 *   or below it, or at or below the last buffered offset, is a duplicate.
 * - Every ownership (and every reset) gets a new `epoch`: a batch taken under
 *   an older epoch is never committed.
 * - A reset partition is gated: it refuses messages until the source has
 *   re-sought it, since anything arriving meanwhile came from the old position.
 * - Message bytes are copied on arrival into pooled blocks (message-blocks.ts),
 *   so the source's buffers are not held until the flush.
 */
import type { DeadLetter } from './dead-letters.ts';
import type { SourceMessage } from './ports.ts';
import { BlockAppender, BlockPool } from './message-blocks.ts';

export interface PartitionState {
  topic: string;
  partition: number;
  /** Last offset committed to the table (data), null when none. */
  committed: bigint | null;
  /** The offset the table holds for this partition once every earlier batch is committed: the `expect` of this buffer's commit. */
  base: bigint | null;
  /** Ownership generation (see the module's invariants). */
  epoch: number;
  /** Values of the messages to normalise, in offset order. */
  values: BlockAppender;
  /** Their keys and offsets (for dead letters and positions). */
  keys: BlockAppender;
  offsets: bigint[];
  /** Dead letters known on arrival (empty messages), then those the encoder found. */
  dead: DeadLetter[];
  /** Reset and waiting for the source to re-seek. */
  gated: boolean;
  messages: number;
  bytes: number;
  /** Clock time the oldest buffered message arrived, or null when empty. */
  firstAt: number | null;
  firstOffset: bigint | null;
  lastOffset: bigint | null;
  skipped: number;
  /** Producer/broker timestamps (ms) of buffered messages, for end-to-end latency. */
  timestamps: number[];
}

/** What `push` did with a message. */
export type PushResult = 'buffered' | 'duplicate' | 'not-owned';

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export function kafkaDeadLetter(msg: Omit<SourceMessage, 'timestamp'>, error: string, failedAt: number): DeadLetter {
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

export class PartitionBuffers {
  private readonly parts = new Map<string, PartitionState>();
  private readonly valueBlocks: BlockPool;
  private readonly keyBlocks = new BlockPool(1 << 10, 64 << 10, 1 << 20);
  private epochs = 0;

  private readonly clock: () => number;
  constructor(clock: () => number) {
    this.clock = clock;
    this.valueBlocks = new BlockPool(16 << 10, 1 << 20, 32 << 20);
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.parts.get(key(topic, partition));
  }

  all(): Iterable<PartitionState> {
    return this.parts.values();
  }

  /** Take ownership of a partition whose tables hold `committed`. */
  own(topic: string, partition: number, committed: bigint | null): void {
    this.replace(topic, partition, this.fresh(topic, partition, committed));
  }

  /** Give a partition up; returns how many buffered messages were dropped. */
  drop(topic: string, partition: number): number {
    const n = this.get(topic, partition)?.messages ?? 0;
    this.replace(topic, partition, null);
    return n;
  }

  /** Restart a partition we still own at `committed`, gated until the source re-seeks. */
  reset(topic: string, partition: number, committed: bigint | null): void {
    if (!this.parts.has(key(topic, partition))) return;
    const st = this.fresh(topic, partition, committed);
    st.gated = true;
    this.replace(topic, partition, st);
  }

  /** The source has re-sought the partition: accept its messages again. */
  ungate(topic: string, partition: number): void {
    const st = this.get(topic, partition);
    if (st) st.gated = false;
  }

  push(msg: SourceMessage): PushResult {
    const st = this.get(msg.topic, msg.partition);
    if (!st || st.gated) return 'not-owned';
    if (
      (st.committed !== null && msg.offset <= st.committed) ||
      (st.lastOffset !== null && msg.offset <= st.lastOffset)
    ) {
      st.skipped++;
      return 'duplicate';
    }
    const now = this.clock();
    if (st.firstAt === null) {
      st.firstAt = now;
      st.firstOffset = msg.offset;
    }
    st.lastOffset = msg.offset;
    st.messages++;
    st.timestamps.push(msg.timestamp ?? now);
    st.bytes += msg.value?.byteLength ?? 0;
    if (msg.value === null || msg.value.byteLength === 0) {
      // A copy of the key: the source's buffer is not held past this call.
      // (Uint8Array's slice: a Buffer's slice is a view.)
      const copy = msg.key && Uint8Array.prototype.slice.call(msg.key);
      st.dead.push(kafkaDeadLetter({ ...msg, key: copy }, 'empty message (no value)', now));
    } else {
      st.values.append(msg.value);
      st.keys.append(msg.key);
      st.offsets.push(msg.offset);
    }
    return 'buffered';
  }

  /** Take the buffers of `topic` that hold messages; new messages go to fresh buffers of the same ownership. */
  take(topic: string): PartitionState[] {
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

  /** Give a taken buffer's blocks back (its messages have been packed). */
  release(st: PartitionState): void {
    st.values.release();
    st.keys.release();
    st.offsets = [];
  }

  /** The taken buffers whose partitions were neither given up nor reset since. */
  stillOwned(taken: PartitionState[]): PartitionState[] {
    return taken.filter((st) => this.get(st.topic, st.partition)?.epoch === st.epoch);
  }

  /** A taken batch was committed (or spooled): its partitions now stand at its last offsets. */
  markCommitted(taken: PartitionState[]): void {
    for (const st of this.stillOwned(taken)) this.get(st.topic, st.partition)!.committed = st.lastOffset;
  }

  /** Topics with buffered messages. */
  topics(): Set<string> {
    return new Set([...this.parts.values()].filter((p) => p.messages > 0).map((p) => p.topic));
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

  private replace(topic: string, partition: number, st: PartitionState | null): void {
    const k = key(topic, partition);
    const old = this.parts.get(k);
    if (old) this.release(old);
    if (st) this.parts.set(k, st);
    else this.parts.delete(k);
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
}
