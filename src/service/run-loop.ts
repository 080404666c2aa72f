/**
 * The run loop shared by `demo` (in-process source) and `consume` (Kafka):
 * poll -> push into the pipeline -> start the flushes the flush policy says
 * are due -> honour re-seeks. It only schedules; what is due, and why, is the
 * policy's decision (ingest/flush-policy.ts).
 *
 * Invariants:
 * - Flushes run in the background, up to `maxFlushesPerTopic` per topic;
 *   their commits stay in order per topic (the pipeline chains them).
 * - Buffered plus in-flight bytes are bounded: above `maxBufferedBytes`,
 *   polling waits for a flush (backpressure).
 * - The spool is replayed only while no flush runs, so commits stay in
 *   order; while it is full, polling stops (never drop, never grow).
 * - A failed flush re-seeks its partitions and backs off (500 ms doubling
 *   to 30 s); a re-seek restarts the idle clock, so `untilIdleMs` waits for
 *   the messages read again.
 * - Stopping lets running flushes finish, then commits what is buffered.
 */
import type { Logger } from '../logger.ts';
import { sleep } from '../time.ts';
import { needsAPerson } from '../errors.ts';
import type { FlushReason } from '../ingest/flush-policy.ts';
import type { FlushOutcome, IngestPipeline, Reseek } from '../ingest/pipeline.ts';
import type { PollingSource } from '../ingest/ports.ts';
import type { RequestedGc } from '../os/requested-gc.ts';

export type { PollingSource } from '../ingest/ports.ts';

export interface RunOptions {
  pipeline: IngestPipeline;
  source: PollingSource;
  log: Logger;
  /** Stop after this long without messages once everything is committed (ms). */
  untilIdleMs?: number;
  signal?: AbortSignal;
  pollMax?: number;
  /** Bytes buffered or being flushed beyond which polling waits for a flush (default 64 MiB). */
  maxBufferedBytes?: number;
  /** Ask for a garbage collection after every `everyBytes` of message values polled (see os/requested-gc.ts). */
  collectGarbage?: RequestedGc;
  /** Told what each poll brought (per topic) and of failed flushes (metrics, status). */
  observer?: RunObserver;
}

export interface RunObserver {
  polled(topic: string, messages: number, bytes: number): void;
  flushFailed(topic: string, error: Error): void;
}

export async function runLoop(opts: RunOptions): Promise<void> {
  await new RunLoop(opts).run();
}

/** Exponential backoff: the delay doubles from `first` up to `max`; `reset` starts over. */
class Backoff {
  private ms = 0;
  until = 0;
  private readonly first: number;
  private readonly max: number;
  constructor(first: number, max: number) {
    this.first = first;
    this.max = max;
  }
  fail(): number {
    this.ms = Math.min(this.max, this.ms ? this.ms * 2 : this.first);
    this.until = Date.now() + this.ms;
    return this.ms;
  }
  reset(): void {
    this.ms = 0;
  }
  waiting(): boolean {
    return Date.now() < this.until;
  }
}

class RunLoop {
  private readonly o: RunOptions;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly perTopic = new Map<string, number>();
  private lastMessageAt = Date.now();
  private polledBytes = 0;
  private readonly flushBackoff = new Backoff(500, 30_000);
  private readonly replayBackoff = new Backoff(1000, 10_000);
  private replaying: Promise<void> | null = null;

  constructor(o: RunOptions) {
    this.o = o;
  }

  private get pipeline() {
    return this.o.pipeline;
  }

  async run(): Promise<void> {
    const { signal } = this.o;
    while (!signal?.aborted) {
      if (this.flushBackoff.waiting()) {
        await sleep(this.flushBackoff.until - Date.now(), signal);
        continue;
      }
      this.tryReplay();
      if (this.pipeline.spool?.full()) {
        await Promise.race([this.replaying ?? sleep(200, signal), sleep(1000, signal)]);
        continue;
      }
      if ((await this.turn()) === 'done') break;
    }
    await this.stop();
  }

  /** One poll and what follows from it. */
  private async turn(): Promise<'done' | 'more'> {
    const { source, signal } = this.o;
    const msgs = await source.poll(this.o.pollMax ?? 2000);
    if (msgs.length) this.lastMessageAt = Date.now();
    const perTopic = new Map<string, { messages: number; bytes: number }>();
    for (const m of msgs) {
      this.pipeline.push(m);
      const bytes = m.value?.byteLength ?? 0;
      this.polledBytes += bytes;
      const t = perTopic.get(m.topic) ?? perTopic.set(m.topic, { messages: 0, bytes: 0 }).get(m.topic)!;
      t.messages++;
      t.bytes += bytes;
    }
    for (const [topic, t] of perTopic) this.o.observer?.polled(topic, t.messages, t.bytes);
    this.maybeCollectGarbage();
    const exhausted = msgs.length === 0 && source.exhausted();
    const quietForMs = msgs.length ? 0 : Date.now() - this.lastMessageAt;
    for (const [topic, reason] of this.pipeline.dueReasons(undefined, { quietForMs, exhausted })) {
      this.start(topic, reason);
    }
    if (this.inFlight.size > 0 && this.heldBytes() > (this.o.maxBufferedBytes ?? 64 * 1024 * 1024)) {
      await Promise.race(this.inFlight.values());
      return 'more';
    }
    if (msgs.length > 0) return 'more';
    if (this.finished(exhausted)) return 'done';
    if (exhausted) {
      await Promise.race([...this.inFlight.values(), sleep(50, signal)]);
      return 'more';
    }
    const ms = Math.max(5, Math.min(50, this.pipeline.nextDueInMs() ?? 50));
    await (source.waitForData ? source.waitForData(ms, signal) : sleep(ms, signal));
    return 'more';
  }

  /** Everything is committed and the source is done (finite) or has been idle long enough. */
  private finished(exhausted: boolean): boolean {
    const { source, untilIdleMs } = this.o;
    const spool = this.pipeline.spool;
    if (this.pipeline.buffered() > 0 || this.inFlight.size > 0 || (spool && spool.size > 0)) return false;
    if (exhausted) return true;
    const idleFor = Date.now() - this.lastMessageAt;
    return untilIdleMs !== undefined && idleFor >= untilIdleMs && !source.positioning?.();
  }

  private heldBytes(): number {
    return this.pipeline.bufferedBytes() + this.pipeline.inFlightBytes;
  }

  private maybeCollectGarbage(): void {
    const gc = this.o.collectGarbage;
    if (gc && this.polledBytes >= gc.everyBytes) {
      this.polledBytes = 0;
      gc.collect();
    }
  }

  /** Start a background flush of `topic` unless it already has as many as it may run. */
  private start(topic: string, reason: FlushReason): void {
    const n = this.perTopic.get(topic) ?? 0;
    if (n >= this.pipeline.maxFlushesPerTopic) return;
    this.perTopic.set(topic, n + 1);
    // The slot is free as soon as the commit is done (mirroring offsets into Kafka need not hold it).
    const release = () => this.perTopic.set(topic, (this.perTopic.get(topic) ?? 1) - 1);
    const p: Promise<void> = this.pipeline
      .flushTopic(topic, reason)
      .catch((err: unknown): FlushOutcome => ({ summaries: [], reseek: [], error: err as Error }))
      .then((out) => {
        release();
        if (out.error) this.o.observer?.flushFailed(topic, out.error);
        return this.handle(out);
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async handle(out: FlushOutcome): Promise<void> {
    this.reseek(out.reseek);
    if (out.summaries.length) await this.o.source.committed?.(this.pipeline.committedOffsets());
    if (out.error) {
      const ms = this.flushBackoff.fail();
      this.o.log.warn(`retrying in ${ms} ms`, { error: out.error.message });
    } else if (out.summaries.length) {
      this.flushBackoff.reset();
    }
  }

  /** A re-seek means messages are read again: idle time starts over. */
  private reseek(list: Reseek[]): void {
    for (const r of list) {
      this.o.source.seek(r.topic, r.partition, r.offset);
      this.pipeline.reseeked(r.topic, r.partition);
      this.lastMessageAt = Date.now();
    }
  }

  private tryReplay(): void {
    const spool = this.pipeline.spool;
    if (!spool || spool.size === 0 || this.replaying || this.replayBackoff.waiting()) return;
    this.replaying = this.replay().finally(() => {
      this.replaying = null;
    });
  }

  private async replay(): Promise<void> {
    const spool = this.pipeline.spool!;
    await Promise.all(this.inFlight.values());
    let r: Awaited<ReturnType<IngestPipeline['replaySpool']>>;
    try {
      r = await this.pipeline.replaySpool();
    } catch (err) {
      // e.g. the spool's own disk failing: never crash, retry with backoff
      r = { replayed: 0, remaining: spool.size, error: err as Error, reseek: [] };
    }
    this.reseek(r.reseek);
    if (!r.error) {
      this.replayBackoff.reset();
      if (r.replayed) await this.o.source.committed?.(this.pipeline.committedOffsets());
      return;
    }
    const ms = this.replayBackoff.fail();
    const full = spool.full() ? ' (spool full: consumption paused)' : '';
    const mb = (spool.bytes / 1e6).toFixed(1);
    const waiting = `${r.remaining} batch(es) (${mb} MB) wait in the spool; next replay attempt in ${ms} ms${full}`;
    if (needsAPerson(r.error)) {
      this.o.log.error(`a spooled batch cannot be committed until its table is fixed; ${waiting}`, {
        error: r.error.message,
      });
    } else {
      this.o.log.warn(`the table store is still unavailable; ${waiting}`, { error: r.error.message });
    }
  }

  /** Graceful stop: let running flushes finish, then commit what is buffered. */
  private async stop(): Promise<void> {
    const { source, log } = this.o;
    const spool = this.pipeline.spool;
    await Promise.all(this.inFlight.values());
    if (this.replaying) await this.replaying;
    const r = await this.pipeline.flushAll('shutdown');
    if (r.summaries.length) await source.committed?.(this.pipeline.committedOffsets());
    if (r.error) {
      log.error('final flush failed; uncommitted messages will be re-read on the next start', {
        error: r.error.message,
      });
    }
    if (spool && spool.size > 0) {
      const rr = await this.pipeline.replaySpool();
      if (rr.remaining > 0) {
        log.warn(
          `${rr.remaining} batch(es) stay in the spool at ${spool.dir}; they are replayed on the next start (or run: reddit-stream spool replay)`,
        );
      }
    }
  }
}
