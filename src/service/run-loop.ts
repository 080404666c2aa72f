/**
 * The run loop shared by `demo` (in-process source) and `consume` (Kafka):
 * poll -> push into the pipeline -> start flushes for due topics (by size,
 * bytes, or a latency timer that fires even when nothing arrives) -> honour
 * re-seeks. Flushes run in the background, up to the encoder's parallelism
 * per topic (their commits stay in order), so the next messages are fetched
 * while batches are parsed, encoded and committed; buffered bytes are bounded
 * (backpressure: polling waits for a flush when the buffers hold more than
 * `maxBufferedBytes`).
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { Logger } from '../logger.ts';
import { sleep } from '../time.ts';
import { needsAPerson } from '../errors.ts';
import { QUIET_FLUSH_MIN_BYTES, quietFlushMs } from '../ingest/flush-policy.ts';
import type { FlushOutcome, IngestPipeline, SourceMessage } from '../ingest/pipeline.ts';

export interface PollingSource {
  /** Up to `max` messages; an empty array when nothing is available now. */
  poll(max: number): Promise<SourceMessage[]>;
  seek(topic: string, partition: number, offset: bigint | null): void;
  /** True when the source will never produce more (finite sources). */
  exhausted(): boolean;
  /** Resolve when messages may be available, or after `ms` (default: just wait `ms`). */
  waitForData?(ms: number, signal?: AbortSignal): Promise<void>;
  /** Told the committed positions after each successful commit (e.g. to mirror them into Kafka). */
  committed?(offsets: Array<{ topic: string; partition: number; offset: bigint }>): Promise<void>;
  /** True while some partition's start position is still being worked out (its messages are held): not idle. */
  positioning?(): boolean;
}

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
  /**
   * Ask for a garbage collection after every `everyBytes` of message values
   * polled. Fetched bytes that outlive a scavenge (see message-blocks.ts) are
   * otherwise freed only when V8's external memory has grown by about 64 MB;
   * at full speed that garbage was a quarter of the peak RSS. `collect` should
   * request a major GC (see `garbageCollection`).
   */
  collectGarbage?: { everyBytes: number; collect: () => void };
}

/**
 * Bytes polled between requested GCs (`gc_every_bytes`; 0: none): a trade
 * of throughput for memory. In `npm run bench:kafka`'s throughput phase
 * (3 runs each against one broker, Node flags of the bin, requests at any
 * RSS): 24 MiB 231-237 MB peak RSS at 39-42k posts/s, 32 MiB 239-251 MB at
 * 44-46k, 48 MiB 257-266 MB at 45k; without requested GCs 263-271 MB at
 * 44-47k (`npm run bench:kafka-repeat`).
 */
export const GC_EVERY_BYTES = 24 << 20;

/**
 * Requests are made only while the process's RSS is at least this: below
 * it, the garbage V8 leaves until its own trigger keeps a process under
 * 250 MB anyway. Same broker, 3 runs each, 24 MiB: from any RSS 225-237 MB
 * at 36.5-38.4k posts/s; from 180 MB 223-233 MB at 40.5-41.9k; from 200 MB
 * 239-247 MB.
 */
export const GC_ABOVE_RSS_BYTES = 180e6;

/**
 * Requested GCs for a service process (`consume`, `demo`): V8's `gc`, exposed
 * at run time (`--expose-gc` through v8.setFlagsFromString, then taken from a
 * new context; this context's globals are untouched, but the flag is
 * process-wide: contexts and worker threads made later see a `gc` global),
 * asked for a major GC run from a task (`execution: 'async'`): a full, atomic
 * mark-compact of the heap, ~15-22 ms for this service's ~25-30 MB
 * (--trace-gc), at most every 150 ms at full speed. Where V8 refuses the
 * flag, V8 decides alone (more memory, same results). `gc` and `rss` can be
 * given (tests).
 */
export function garbageCollection(
  everyBytes = GC_EVERY_BYTES,
  o: { aboveRssBytes?: number; rss?: () => number; gc?: (o: { type: 'major'; execution: 'async' }) => unknown } = {},
): { everyBytes: number; collect: () => void } | undefined {
  if (!(everyBytes > 0)) return undefined;
  let gc: unknown = o.gc;
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc');
    } catch {
      return undefined;
    }
  }
  if (typeof gc !== 'function') return undefined;
  const run = gc as (o: { type: 'major'; execution: 'async' }) => unknown;
  const rss = o.rss ?? process.memoryUsage.rss;
  const above = o.aboveRssBytes ?? GC_ABOVE_RSS_BYTES;
  return {
    everyBytes,
    collect: () => {
      if (rss() >= above) void run({ type: 'major', execution: 'async' });
    },
  };
}

export async function runLoop(opts: RunOptions): Promise<void> {
  const { pipeline, source, log } = opts;
  const inFlight = new Set<Promise<void>>();
  const perTopic = new Map<string, number>();
  let lastMessageAt = Date.now();
  // A re-seek (after a failed or conflicting flush) means messages are to be
  // read again: idle time starts over, so --until-idle waits for them.
  const rereading = () => {
    lastMessageAt = Date.now();
  };
  let polledBytes = 0;
  let backoff = 0;
  let backoffUntil = 0;
  const spool = pipeline.spool;
  let replayAt = 0;
  let replayBackoff = 0;
  let replaying: Promise<void> | null = null;
  const tryReplay = () => {
    if (!spool || spool.size === 0 || replaying || Date.now() < replayAt) return;
    replaying = (async () => {
      // Replay only while no flush runs, so commits stay in order per topic.
      await Promise.all(inFlight.values());
      let r: Awaited<ReturnType<typeof pipeline.replaySpool>>;
      try {
        r = await pipeline.replaySpool();
      } catch (err) {
        // e.g. the spool's own disk failing: never crash, retry with backoff
        r = { replayed: 0, remaining: spool.size, error: err as Error, reseek: [] };
      }
      for (const s of r.reseek) {
        source.seek(s.topic, s.partition, s.offset);
        pipeline.reseeked(s.topic, s.partition);
        rereading();
      }
      if (r.error) {
        replayBackoff = Math.min(10_000, replayBackoff ? replayBackoff * 2 : 1000);
        replayAt = Date.now() + replayBackoff;
        const waiting = `${r.remaining} batch(es) (${(spool.bytes / 1e6).toFixed(1)} MB) wait in the spool; next replay attempt in ${replayBackoff} ms${spool.full() ? ' (spool full: consumption paused)' : ''}`;
        if (needsAPerson(r.error)) {
          log.error(`a spooled batch cannot be committed until its table is fixed; ${waiting}`, {
            error: r.error.message,
          });
        } else log.warn(`the table store is still unavailable; ${waiting}`, { error: r.error.message });
      } else {
        replayBackoff = 0;
        if (r.replayed) await source.committed?.(pipeline.committedOffsets());
      }
    })().finally(() => {
      replaying = null;
    });
  };

  const handle = async (out: FlushOutcome) => {
    for (const r of out.reseek) {
      source.seek(r.topic, r.partition, r.offset);
      pipeline.reseeked(r.topic, r.partition);
      rereading();
    }
    if (out.summaries.length) await source.committed?.(pipeline.committedOffsets());
    if (out.error) {
      backoff = Math.min(30_000, backoff ? backoff * 2 : 500);
      backoffUntil = Date.now() + backoff;
      log.warn(`retrying in ${backoff} ms`, { error: out.error.message });
    } else if (out.summaries.length) {
      backoff = 0;
    }
  };
  const start = (topic: string, reason: string) => {
    const n = perTopic.get(topic) ?? 0;
    if (n >= pipeline.maxFlushesPerTopic) return;
    perTopic.set(topic, n + 1);
    // The slot is free as soon as the commit is done (mirroring offsets into Kafka need not hold it).
    const release = () => perTopic.set(topic, (perTopic.get(topic) ?? 1) - 1);
    const p: Promise<void> = pipeline
      .flushTopic(topic, reason)
      .then(
        (out) => {
          release();
          return handle(out);
        },
        (err) => {
          release();
          return handle({ summaries: [], reseek: [], error: err as Error });
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  while (!opts.signal?.aborted) {
    if (Date.now() < backoffUntil) {
      await sleep(backoffUntil - Date.now(), opts.signal);
      continue;
    }
    tryReplay();
    if (spool?.full()) {
      // Backpressure: never drop, never grow without bound. Wait for the replay.
      await Promise.race([replaying ?? sleep(200, opts.signal), sleep(1000, opts.signal)]);
      continue;
    }
    const msgs = await source.poll(opts.pollMax ?? 2000);
    if (msgs.length) lastMessageAt = Date.now();
    for (const m of msgs) {
      pipeline.push(m);
      polledBytes += m.value?.byteLength ?? 0;
    }
    if (opts.collectGarbage && polledBytes >= opts.collectGarbage.everyBytes) {
      polledBytes = 0;
      opts.collectGarbage.collect();
    }
    for (const [topic, reason] of pipeline.dueReasons()) start(topic, reason);
    if (
      inFlight.size > 0 &&
      pipeline.bufferedBytes() + pipeline.inFlightBytes > (opts.maxBufferedBytes ?? 64 * 1024 * 1024)
    ) {
      await Promise.race(inFlight.values());
      continue;
    }
    if (msgs.length === 0) {
      if (Date.now() - lastMessageAt >= quietFlushMs(pipeline.policy)) {
        for (const t of pipeline.topicsHolding(QUIET_FLUSH_MIN_BYTES)) start(t, 'caught up');
      }
      if (pipeline.buffered() === 0 && inFlight.size === 0 && (!spool || spool.size === 0)) {
        const idleFor = Date.now() - lastMessageAt;
        if (
          source.exhausted() ||
          (opts.untilIdleMs !== undefined && idleFor >= opts.untilIdleMs && !source.positioning?.())
        ) {
          break;
        }
      }
      if (source.exhausted() && pipeline.buffered() > 0) {
        for (const t of new Set(pipeline.assigned().map((a) => a.topic))) start(t, 'end of input');
        await Promise.race([...inFlight.values(), sleep(50, opts.signal)]);
        continue;
      }
      const ms = Math.max(5, Math.min(50, pipeline.nextDueInMs() ?? 50));
      await (source.waitForData ? source.waitForData(ms, opts.signal) : sleep(ms, opts.signal));
    }
  }
  // Graceful stop: let running flushes finish, then commit what is buffered.
  await Promise.all(inFlight.values());
  if (replaying) await replaying;
  const r = await pipeline.flushAll('shutdown');
  if (r.summaries.length) await source.committed?.(pipeline.committedOffsets());
  if (r.error) {
    log.error('final flush failed; uncommitted messages will be re-read on the next start', { error: r.error.message });
  }
  if (spool && spool.size > 0) {
    const rr = await pipeline.replaySpool();
    if (rr.remaining > 0) {
      log.warn(
        `${rr.remaining} batch(es) stay in the spool at ${spool.dir}; they are replayed on the next start (or run: reddit-stream spool replay)`,
      );
    }
  }
}
