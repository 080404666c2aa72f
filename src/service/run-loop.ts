/**
 * The run loop shared by `demo` (in-process source) and, later, `consume`
 * (Kafka): poll -> push into the pipeline -> flush what is due (by size, bytes
 * or a latency timer that fires even when nothing arrives) -> honour re-seeks.
 */
import type { Logger } from '../logger.ts';
import type { IngestPipeline, SourceMessage } from '../ingest/pipeline.ts';

export interface PollingSource {
  /** Up to `max` messages; an empty array when nothing is available now. */
  poll(max: number): Promise<SourceMessage[]>;
  seek(topic: string, partition: number, offset: bigint | null): void;
  /** True when the source will never produce more (finite sources). */
  exhausted(): boolean;
  /** Told the committed positions after each successful commit (e.g. to mirror them into Kafka). */
  committed?(offsets: Array<{ topic: string; partition: number; offset: bigint }>): Promise<void>;
}

export interface RunOptions {
  pipeline: IngestPipeline;
  source: PollingSource;
  log: Logger;
  /** Stop after this long without messages once everything is committed (ms). */
  untilIdleMs?: number;
  signal?: AbortSignal;
  pollMax?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

export async function runLoop(opts: RunOptions): Promise<void> {
  const { pipeline, source, log } = opts;
  let lastMessageAt = Date.now();
  let backoff = 0;
  while (!opts.signal?.aborted) {
    const msgs = await source.poll(opts.pollMax ?? 1000);
    if (msgs.length) lastMessageAt = Date.now();
    for (const m of msgs) pipeline.push(m);
    const out = await pipeline.flushDue();
    for (const r of out.reseek) source.seek(r.topic, r.partition, r.offset);
    if (out.summaries.length) await source.committed?.(pipeline.committedOffsets());
    if (out.error) {
      backoff = Math.min(30_000, backoff ? backoff * 2 : 500);
      log.warn(`retrying in ${backoff} ms`, { error: out.error.message });
      await sleep(backoff, opts.signal);
      continue;
    }
    backoff = 0;
    if (msgs.length === 0) {
      const idleFor = Date.now() - lastMessageAt;
      if ((source.exhausted() || (opts.untilIdleMs !== undefined && idleFor >= opts.untilIdleMs)) && pipeline.buffered() === 0) break;
      if (source.exhausted() && pipeline.buffered() > 0) {
        const r = await pipeline.flushAll('end of input');
        for (const s of r.reseek) source.seek(s.topic, s.partition, s.offset);
        if (r.summaries.length) await source.committed?.(pipeline.committedOffsets());
        if (r.error) await sleep(500, opts.signal);
        continue;
      }
      await sleep(Math.min(100, pipeline.nextDueInMs() ?? 100), opts.signal);
    }
  }
  // Graceful stop: commit what is buffered.
  const r = await pipeline.flushAll('shutdown');
  if (r.summaries.length) await source.committed?.(pipeline.committedOffsets());
  if (r.error) log.error('final flush failed; uncommitted messages will be re-read on the next start', { error: r.error.message });
}
