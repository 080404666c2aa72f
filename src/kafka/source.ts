/**
 * Kafka as a message source for the ingest pipeline, over @platformatic/kafka.
 *
 * Positions come from the Delta tables, not from Kafka: on every assignment
 * the pipeline reads the partition's committed offset (its `txn` version) and
 * the source seeks there; with no txn it seeks to the offset of the reset
 * policy (`auto_offset_reset`), looked up then. Kafka's own committed offsets are only a
 * mirror, written after each Delta commit, so lag tools work.
 *
 * Partition states:
 *   pending  - assigned, position not read from the table yet (or, with no
 *              position there, the reset policy's offset not looked up yet):
 *              messages are held (at most the queue limit over all such
 *              partitions; beyond it they are dropped and fetched again,
 *              since the partition is sought explicitly once its position is
 *              known), and never pause the stream;
 *   seeking  - position known, waiting for the first message at that offset
 *              (an in-flight fetch may still deliver later offsets: those are
 *              dropped and the seek repeated). Only when the broker says the
 *              offset no longer exists (its earliest offset is past it:
 *              retention removed the messages) is the earliest one accepted,
 *              with a warning; a gap is never accepted on a guess;
 *   ready    - messages flow to the pipeline.
 *
 * The partition states, the queue and the assignment are kept in one class:
 * every transition (group events, fetched messages, polls, seeks) reads and
 * writes all three.
 */
import type { ConsumerOptions } from '@platformatic/kafka';
import {
  kafkaConsumer,
  type GroupConsumer,
  type GroupConsumerFactory,
  type GroupStream,
  type KafkaMessage,
} from './group-consumer.ts';
import type { Logger } from '../logger.ts';
import type { KafkaConnection } from '../config/config.ts';
import type { PartitionOwner, PollingSource, SourceMessage } from '../ingest/ports.ts';
import { sleep } from '../time.ts';
import { needsAPerson, type ReddStreamError } from '../errors.ts';

export { kafkaConsumer, type GroupConsumer, type GroupConsumerFactory, type GroupStream } from './group-consumer.ts';

export interface KafkaSourceOptions {
  bootstrapBrokers: string[];
  groupId: string;
  clientId: string;
  topics: string[];
  autoOffsetReset: 'earliest' | 'latest';
  /** Holds the partitions' buffers and reads their positions from the tables. */
  owner: PartitionOwner;
  log: Logger;
  /** Makes the group consumer (default: the Kafka client's). */
  createConsumer?: GroupConsumerFactory;
  /** Delay before a failed position read or offset lookup is retried (default 1 s). */
  retryMs?: number;
  /** Upper bound of one fetch response (default 4 MiB). */
  fetchMaxBytes?: number;
  /** Pause fetching above this many queued messages (default 1000). */
  maxQueued?: number;
  /** SASL and TLS settings (see `kafkaConnection` in config). */
  connection?: KafkaConnection;
  /** A prom-client registry (and the client) for the Kafka client's own metrics. */
  metrics?: ConsumerOptions<Buffer, Buffer, Buffer, Buffer>['metrics'];
}

/** The source's view of its connection, for readiness. */
export interface SourceHealth {
  /** A client exists and no broker is reported unreachable. */
  connected: boolean;
  /** Partitions assigned to this consumer. */
  assigned: number;
}

type Pending = {
  kind: 'pending';
  held: SourceMessage[];
  /** Why the position cannot be read, when that needs a person (the table cannot hold posts...): nothing is held meanwhile. */
  failed?: ReddStreamError;
  /** With `latest`: the end offset looked up when the partition was assigned (used if the table has no position). */
  latestAtAssign?: Promise<bigint | undefined>;
};

const RETRY_MS = 1000;
const RETRY_NEEDS_A_PERSON_MS = 60_000;
type PartState =
  | Pending
  | {
      kind: 'seeking';
      offset: bigint;
      since: number;
      checking: boolean;
      windowMin: bigint | null;
      lastWindowMin: bigint | null;
    }
  | { kind: 'ready' };

const key = (topic: string, partition: number) => `${topic}:${partition}`;

const DEFAULT_FETCH_BYTES = 4 * 1024 * 1024;
/** Queued messages hold their fetch chunks: a short queue is enough, the run loop drains it every turn. */
const DEFAULT_MAX_QUEUED = 1000;

export class KafkaSource implements PollingSource {
  private readonly o: KafkaSourceOptions;
  private consumer: GroupConsumer | null = null;
  private stream: GroupStream | null = null;
  private queue: SourceMessage[] = [];
  private readonly states = new Map<string, PartState>();
  /** Where a partition with no position in its table started (the reset policy's offset then). */
  private readonly starts = new Map<string, bigint>();
  private assignment = new Set<string>();
  private paused = false;
  private restarting = false;
  private closed = false;
  private disconnecting = false;
  private assignChain: Promise<void> = Promise.resolve();
  lastError: Error | null = null;
  /** Brokers whose lost connection was reported, until they answer again. */
  private readonly down = new Set<string>();

  constructor(options: KafkaSourceOptions) {
    this.o = options;
  }

  async start(): Promise<void> {
    const { o } = this;
    this.consumer = (o.createConsumer ?? kafkaConsumer)(consumerOptions(o));
    this.consumer.on('consumer:group:join', () => this.onJoin());
    this.consumer.on('consumer:group:rebalance', () =>
      o.log.info('consumer group is rebalancing', { group: o.groupId }),
    );
    watchConnections(this.consumer, o.log, this.down, () => this.closed || this.disconnecting);
    this.stream = await this.consumer.consume({
      topics: o.topics,
      mode: o.autoOffsetReset,
      fallbackMode: o.autoOffsetReset,
      autocommit: false,
      maxWaitTime: 250,
    });
    this.stream.on('offsets', () => this.applySeeks());
    this.stream.on('data', (m: KafkaMessage) => this.onMessage(m));
    this.stream.on('error', (err: Error) => this.onStreamError(err));
    this.onJoin();
  }

  private onJoin(): void {
    const c = this.consumer;
    if (!c) return;
    const next = new Set<string>();
    for (const a of c.assignments ?? []) for (const p of a.partitions) next.add(key(a.topic, p));
    const removed = [...this.assignment].filter((k) => !next.has(k));
    const added = [...next].filter((k) => !this.assignment.has(k));
    this.assignment = next;
    if (removed.length === 0 && added.length === 0) return;
    this.o.log.info('partition assignment changed', {
      group: this.o.groupId,
      assigned: [...next].sort().join(',') || 'none',
      added: added.join(',') || undefined,
      revoked: removed.join(',') || undefined,
    });
    for (const k of removed) {
      this.states.delete(k);
      this.starts.delete(k);
      const [topic, p] = split(k);
      this.queue = this.queue.filter((m) => !(m.topic === topic && m.partition === p));
    }
    const fresh = added.map((k) => {
      const st: Pending = { kind: 'pending', held: [] };
      // "latest" means the end of the partition when it was assigned, not when its table answered.
      if (this.o.autoOffsetReset === 'latest') {
        st.latestAtAssign = this.lookupReset(k).catch(() => undefined);
      }
      this.states.set(k, st);
      return [k, st] as const;
    });
    this.assignChain = this.assignChain.then(async () => {
      if (removed.length) {
        await this.o.owner.idle();
        for (const k of removed) {
          const [topic, p] = split(k);
          this.o.owner.revoke(topic, p);
        }
      }
      for (const [k, st] of fresh) await this.assignOne(k, st);
    });
  }

  /** Whether `st` is still the partition's state (not revoked, re-assigned or re-seeked since). */
  private current(k: string, st: PartState): boolean {
    return !this.closed && this.assignment.has(k) && this.states.get(k) === st;
  }

  /** Run `step` again after `ms`, on the assign chain (a failed table or offset read; messages stay held). */
  private retryLater(step: () => Promise<void>, ms = this.o.retryMs ?? RETRY_MS): void {
    setTimeout(() => {
      this.assignChain = this.assignChain.then(step);
    }, ms).unref();
  }

  /**
   * Read the position of a partition assigned in state `st` from the table;
   * on failure keep its held messages and retry later (not blocking poll).
   * A retry of an assignment that has since been revoked or replaced does
   * nothing: it must not reset the newer one's pipeline state.
   */
  private async assignOne(k: string, st: Pending): Promise<void> {
    if (!this.current(k, st)) return;
    const [topic, p] = split(k);
    let pos: bigint | null;
    try {
      pos = await this.o.owner.assign(topic, p);
    } catch (err) {
      if (needsAPerson(err)) {
        // Only this partition waits; the others go on. Tried again every minute (someone may fix the table).
        if (!st.failed) {
          this.o.log.error(
            `cannot consume ${topic} partition ${p} until its table is fixed (tried again every minute; other partitions go on)`,
            { topic, partition: p, error: err.message },
          );
        }
        st.failed = err;
        st.held = [];
        this.retryLater(() => this.assignOne(k, st), RETRY_NEEDS_A_PERSON_MS);
        return;
      }
      st.failed = undefined;
      this.o.log.error(
        'cannot read the committed position from the table; its messages are held and the read is retried',
        { topic, partition: p, error: (err as Error).message },
      );
      this.retryLater(() => this.assignOne(k, st));
      return;
    }
    st.failed = undefined;
    if (!this.current(k, st)) return;
    if (pos === null) {
      await this.startAtReset(k, st);
      return;
    }
    this.o.log.debug('resuming from the table', { topic, partition: p, offset: pos });
    this.seekHeld(k, st, pos);
  }

  /**
   * A partition with no position in its table starts at the reset policy's
   * offset, looked up and sought explicitly: the stream's own fetch position
   * may be left from an earlier ownership of the partition (its messages
   * since then were never committed), and must not be trusted.
   */
  private async startAtReset(k: string, st: Pending): Promise<void> {
    const [topic, p] = split(k);
    let offset = await st.latestAtAssign;
    st.latestAtAssign = undefined;
    try {
      offset ??= await this.lookupReset(k);
    } catch (err) {
      if (!this.current(k, st)) return;
      this.o.log.warn(
        `cannot look up the ${this.o.autoOffsetReset} offset; its messages are held and the lookup is retried`,
        { topic, partition: p, error: (err as Error).message },
      );
      this.retryLater(() => this.startAtReset(k, st));
      return;
    }
    if (!this.current(k, st)) return;
    this.starts.set(k, offset);
    this.o.log.info(`no committed position in the table: starting at the ${this.o.autoOffsetReset} offset`, {
      topic,
      partition: p,
      offset,
    });
    this.seekHeld(k, st, offset);
  }

  /** The reset policy's offset of partition `k` now (ListOffsets: earliest or end). */
  private async lookupReset(k: string): Promise<bigint> {
    const [topic, p] = split(k);
    const offsets = await this.consumer?.listOffsets({
      topics: [topic],
      partitions: { [topic]: [p] },
      timestamp: this.o.autoOffsetReset === 'earliest' ? -2n : -1n,
    });
    const offset = offsets?.get(topic)?.[p];
    if (offset === undefined) throw new Error(`the broker gave no ${this.o.autoOffsetReset} offset`);
    return offset;
  }

  /** Seek partition `k` to `offset`: wait for the message there (see the states above). */
  private seekTo(k: string, offset: bigint): void {
    this.states.set(k, {
      kind: 'seeking',
      offset,
      since: Date.now(),
      checking: false,
      windowMin: null,
      lastWindowMin: null,
    });
    this.stream?.offsetsToFetch.set(k, offset);
  }

  /** Leave state `st` for seeking `offset`, and pass on what was held meanwhile. */
  private seekHeld(k: string, st: Pending, offset: bigint): void {
    this.seekTo(k, offset);
    for (const m of st.held) this.accept(m);
  }

  private applySeeks(): void {
    for (const [k, st] of this.states) if (st.kind === 'seeking') this.stream?.offsetsToFetch.set(k, st.offset);
  }

  private onMessage(m: KafkaMessage): void {
    const msg: SourceMessage = {
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      // Buffers are Uint8Arrays: no new views per message.
      key: m.key && m.key.length ? m.key : null,
      value: m.value && m.value.length ? m.value : null,
      timestamp: Number(m.timestamp),
    };
    const st = this.states.get(key(m.topic, m.partition));
    if (!st) return; // not ours (revoked)
    if (st.kind === 'pending') {
      if (st.failed) return; // its table needs a person: fetched again once it is fixed
      // Held messages are only a head start: the partition is sought
      // explicitly once its position is known, so they can be dropped and
      // fetched again. They never pause the stream (one table that cannot be
      // read must not stop every other partition); beyond the queue limit,
      // this partition's held messages are dropped instead.
      if (this.held() >= (this.o.maxQueued ?? DEFAULT_MAX_QUEUED)) {
        if (st.held.length > 0) {
          this.o.log.debug(
            'dropping messages held for a partition whose position is not known yet; they are fetched again once it is',
            { topic: msg.topic, partition: msg.partition, dropped: st.held.length },
          );
        }
        st.held = [];
        return;
      }
      st.held.push(msg);
      return;
    }
    this.accept(msg);
  }

  private accept(msg: SourceMessage): void {
    const k = key(msg.topic, msg.partition);
    const st = this.states.get(k);
    if (!st) return;
    if (st.kind === 'seeking') {
      if (msg.offset < st.offset) return; // already committed
      if (msg.offset > st.offset) {
        this.stream?.offsetsToFetch.set(k, st.offset);
        st.windowMin = st.windowMin === null || msg.offset < st.windowMin ? msg.offset : st.windowMin;
        if (!st.checking && Date.now() - st.since > 2000) {
          // Two consecutive windows (each after a re-seek) whose lowest offset
          // is the same: that is the first record at or after the target (the
          // target is a transaction marker or was deleted), not stale data.
          if (st.lastWindowMin !== null && st.windowMin === st.lastWindowMin) {
            this.o.log.warn(
              'no record at the table position (transaction marker or deleted by retention); continuing from the next record Kafka has',
              { topic: msg.topic, partition: msg.partition, tablePosition: st.offset, next: st.windowMin },
            );
            st.offset = st.windowMin;
            this.stream?.offsetsToFetch.set(k, st.offset);
          } else {
            void this.checkEarliest(k, st);
          }
          st.lastWindowMin = st.windowMin;
          st.windowMin = null;
          st.since = Date.now();
        }
        return;
      }
      this.states.set(k, { kind: 'ready' });
    }
    this.queue.push(msg);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
    this.pauseIfFull(this.queue.length);
  }

  /** Messages held for partitions whose position is not known yet. */
  private held(): number {
    let n = 0;
    for (const st of this.states.values()) if (st.kind === 'pending') n += st.held.length;
    return n;
  }

  private pauseIfFull(count: number): void {
    if (!this.paused && count >= (this.o.maxQueued ?? DEFAULT_MAX_QUEUED)) {
      this.paused = true;
      this.stream?.pause();
    }
  }

  /** The seek target may have been deleted by retention: accept the earliest offset only if the broker says so. */
  private async checkEarliest(k: string, st: Extract<PartState, { kind: 'seeking' }>): Promise<void> {
    const c = this.consumer;
    if (!c) return;
    st.checking = true;
    const [topic, p] = split(k);
    try {
      const offsets = await c.listOffsets({
        topics: [topic],
        partitions: { [topic]: [p] },
        timestamp: -2n /* earliest */,
      });
      const earliest = offsets.get(topic)?.[p];
      if (earliest !== undefined && earliest > st.offset && this.states.get(k) === st) {
        this.o.log.warn(
          'the table position no longer exists in Kafka (retention deleted it); continuing from the earliest offset Kafka has',
          { topic, partition: p, tablePosition: st.offset, earliest },
        );
        st.offset = earliest;
        this.stream?.offsetsToFetch.set(k, earliest);
      }
    } catch (err) {
      this.o.log.debug('could not list the earliest offset', { topic, partition: p, error: (err as Error).message });
    } finally {
      st.checking = false;
    }
  }

  private onStreamError(err: Error): void {
    this.lastError = err;
    if (this.closed || this.restarting) return;
    this.restarting = true;
    this.o.log.warn('Kafka stream failed; reconnecting with backoff', { error: err.message });
    void this.restart();
  }

  private async restart(): Promise<void> {
    let delay = 1000;
    while (!this.closed) {
      try {
        await this.disconnect();
        await this.o.owner.idle();
        for (const k of this.assignment) {
          const [topic, p] = split(k);
          this.o.owner.revoke(topic, p);
        }
        this.assignment.clear();
        this.states.clear();
        this.starts.clear();
        this.queue = [];
        await this.start();
        this.o.log.info('Kafka stream reconnected');
        this.restarting = false;
        return;
      } catch (err) {
        this.o.log.warn(`Kafka still unreachable; retrying in ${delay} ms`, { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(30_000, delay * 2);
      }
    }
  }

  private waiter: (() => void) | null = null;

  /** Resolve when a message is queued, or after `ms`. */
  async waitForData(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.queue.length > 0) return;
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([new Promise<void>((resolve) => (this.waiter = resolve)), sleep(ms, ac.signal)]);
    } finally {
      this.waiter = null;
      ac.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async poll(max: number): Promise<SourceMessage[]> {
    // Not waiting for the assign chain: a slow table read must not hold up
    // other partitions' messages (a partition's messages are only queued once
    // the pipeline has it, and a revoked one's are dropped at once).
    const out = this.queue.length <= max ? this.queue : this.queue.slice(0, max);
    this.queue = this.queue.length <= max ? [] : this.queue.slice(max);
    if (this.paused && this.queue.length < (this.o.maxQueued ?? DEFAULT_MAX_QUEUED) / 2) {
      this.paused = false;
      this.stream?.resume();
    }
    return out;
  }

  seek(topic: string, partition: number, offset: bigint | null): void {
    const k = key(topic, partition);
    if (!this.assignment.has(k)) return;
    // Pending: assigned again since the flush that asks for this; its own
    // position read (queued) places it. A seek now would skip that read.
    if (this.states.get(k)?.kind === 'pending') return;
    this.queue = this.queue.filter((m) => !(m.topic === topic && m.partition === partition));
    if (offset === null) {
      // Nothing committed yet: back to where this ownership started (the
      // reset policy's offset then), not wherever the stream is now.
      const start = this.starts.get(k);
      if (start === undefined) {
        const st: Pending = { kind: 'pending', held: [] };
        this.states.set(k, st);
        this.assignChain = this.assignChain.then(() => this.startAtReset(k, st));
        return;
      }
      offset = start;
    }
    this.seekTo(k, offset);
  }

  exhausted(): boolean {
    return false;
  }

  positioning(): boolean {
    for (const st of this.states.values()) if (st.kind === 'pending' && !st.failed) return true;
    return false;
  }

  /** Assigned partitions that cannot be consumed until a person fixes their table, and why. */
  blocked(): Array<{ topic: string; partition: number; error: ReddStreamError }> {
    const out = [];
    for (const [k, st] of this.states) {
      if (st.kind !== 'pending' || !st.failed) continue;
      const [topic, partition] = split(k);
      out.push({ topic, partition, error: st.failed });
    }
    return out;
  }

  health(): SourceHealth {
    return {
      connected: this.consumer !== null && !this.restarting && this.down.size === 0,
      assigned: this.assignment.size,
    };
  }

  /** The end offset (the next message's offset) of each assigned partition; throws when the broker cannot say. */
  async endOffsets(): Promise<Array<{ topic: string; partition: number; end: bigint }>> {
    const c = this.consumer;
    if (!c || this.assignment.size === 0) return [];
    const partitions: Record<string, number[]> = {};
    for (const k of this.assignment) {
      const [topic, p] = split(k);
      (partitions[topic] ??= []).push(p);
    }
    const offsets = await c.listOffsets({ topics: Object.keys(partitions), partitions, timestamp: -1n });
    return Object.entries(partitions).flatMap(([topic, ps]) =>
      ps.flatMap((partition) => {
        const end = (offsets.get(topic) as Record<number, bigint> | undefined)?.[partition];
        return end === undefined ? [] : [{ topic, partition, end }];
      }),
    );
  }

  /** Messages held for a partition whose position is not known yet. */
  heldCount(topic: string, partition: number): number {
    const st = this.states.get(key(topic, partition));
    return st?.kind === 'pending' ? st.held.length : 0;
  }

  /** Resolves when the queued assignment work (revocations, position reads) has run. */
  settled(): Promise<void> {
    return this.assignChain;
  }

  committed(offsets: Array<{ topic: string; partition: number; offset: bigint }>): Promise<void> {
    return this.commitOffsets(offsets);
  }

  /** Mirror the table's committed positions into Kafka (for lag tools). Best effort. */
  async commitOffsets(offsets: Array<{ topic: string; partition: number; offset: bigint }>): Promise<void> {
    const c = this.consumer;
    if (!c || offsets.length === 0) return;
    const mine = offsets.filter((x) => this.assignment.has(key(x.topic, x.partition)));
    if (mine.length === 0) return;
    try {
      await c.commit({
        offsets: mine.map((x) => ({ topic: x.topic, partition: x.partition, offset: x.offset + 1n, leaderEpoch: -1 })),
      });
    } catch (err) {
      this.o.log.debug('could not mirror offsets to Kafka (the Delta tables hold the real positions)', {
        error: (err as Error).message,
      });
    }
  }

  async disconnect(): Promise<void> {
    const s = this.stream;
    const c = this.consumer;
    this.stream = null;
    this.consumer = null;
    this.disconnecting = true;
    try {
      await s?.close();
    } catch {
      /* already broken */
    }
    try {
      await c?.close(true);
    } catch {
      /* already broken */
    }
    this.disconnecting = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.disconnect();
  }
}

function split(k: string): [string, number] {
  const i = k.lastIndexOf(':');
  return [k.slice(0, i), Number(k.slice(i + 1))];
}

function consumerOptions(o: KafkaSourceOptions): ConsumerOptions<Buffer, Buffer, Buffer, Buffer> {
  const fetchBytes = o.fetchMaxBytes ?? DEFAULT_FETCH_BYTES;
  return {
    clientId: o.clientId,
    groupId: o.groupId,
    bootstrapBrokers: o.bootstrapBrokers,
    autocommit: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    rebalanceTimeout: 20_000,
    maxWaitTime: 250,
    // Messages are views of the socket chunks their response arrived in: a
    // chunk lives until its messages are copied into the pipeline's blocks, so
    // smaller responses hold less memory (see README, Performance).
    maxBytes: fetchBytes,
    maxBytesPerPartition: Math.min(fetchBytes, DEFAULT_FETCH_BYTES),
    retries: 5,
    retryDelay: 500,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...o.connection,
  } as ConsumerOptions<Buffer, Buffer, Buffer, Buffer>;
}

/**
 * Connection health: the client reconnects by itself (or the source makes a
 * new client after the stream failed); say what is happening. Brokers
 * reported down stay in `down` across new clients, so their reconnection is
 * reported too.
 */
function watchConnections(consumer: GroupConsumer, log: Logger, down: Set<string>, quiet: () => boolean): void {
  const name = (e: { broker?: { host: string; port: number } }) =>
    e?.broker ? `${e.broker.host}:${e.broker.port}` : 'broker';
  consumer.on('client:broker:disconnect', (e) => {
    const b = name(e);
    if (quiet() || down.has(b)) return;
    down.add(b);
    log.warn(
      'lost the connection to a Kafka broker; reconnecting with backoff (consumption resumes by itself, nothing is lost)',
      { broker: b },
    );
  });
  consumer.on('client:broker:failed', (e) =>
    log.debug('Kafka broker still unreachable; retrying', { broker: name(e) }),
  );
  consumer.on('client:broker:connect', (e) => {
    const b = name(e);
    if (down.delete(b)) log.info('reconnected to Kafka broker', { broker: b });
  });
}
