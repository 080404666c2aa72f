/** The run loop's flush triggers with an in-process source (no Kafka). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QUIET_FLUSH } from '../../src/ingest/flush-policy.ts';
import { IngestPipeline, type SourceMessage } from '../../src/ingest/pipeline.ts';
import type { BatchSummary } from '../../src/ingest/summary.ts';
import { TableCatalog } from '../../src/ingest/tables.ts';
import { silentLogger } from '../../src/logger.ts';
import { PostGenerator } from '../../src/reddit/generate.ts';
import { runLoop, type PollingSource } from '../../src/service/run-loop.ts';
import { memoryRoot } from '../helpers/memory-root.ts';

const enc = new TextEncoder();

/** A source that delivers `messages` once, then nothing (the end of a catch-up: not exhausted, just quiet). */
function burst(messages: SourceMessage[]): PollingSource {
  let sent = false;
  return {
    async poll() {
      if (sent) return [];
      sent = true;
      return messages;
    },
    seek() {},
    exhausted: () => false,
  };
}

function posts(n: number, topic = 'reddit_tail'): SourceMessage[] {
  const g = new PostGenerator({ seed: 5 });
  return Array.from({ length: n }, (_, i) => ({ topic, partition: 0, offset: BigInt(i), key: null, value: enc.encode(g.nextJson()) }));
}

async function run(messages: SourceMessage[]): Promise<{ summaries: BatchSummary[]; rows: number }> {
  const summaries: BatchSummary[] = [];
  // A latency limit far beyond the test: only the quiet rule can flush before it.
  const pipeline = new IngestPipeline({
    group: 'g', policy: { maxMessages: 1_000_000, maxBytes: 1 << 30, maxLatencyMs: 10 * 60_000 },
    catalog: new TableCatalog(memoryRoot(), { log: silentLogger }), log: silentLogger, onBatch: (s) => summaries.push(s),
  });
  await pipeline.assign('reddit_tail', 0);
  await runLoop({ pipeline, source: burst(messages), log: silentLogger, untilIdleMs: 300, signal: AbortSignal.timeout(20_000) });
  return { summaries, rows: pipeline.totals.rows };
}

describe('run loop', () => {
  it('flushes a table holding a catch-up tail as soon as the source goes quiet, not at the latency limit', async () => {
    const msgs = posts(600);
    assert.ok(msgs.reduce((n, m) => n + m.value!.byteLength, 0) >= QUIET_FLUSH.minBytes);
    const r = await run(msgs);
    assert.equal(r.rows, 600);
    assert.deepEqual(r.summaries.map((s) => s.reason), ['caught up']);
  });

  it('leaves a small buffer to its latency limit (steady trickles keep their batches)', async () => {
    const msgs = posts(3);
    const summaries: BatchSummary[] = [];
    const pipeline = new IngestPipeline({
      group: 'g', policy: { maxMessages: 1_000_000, maxBytes: 1 << 30, maxLatencyMs: 1500 },
      catalog: new TableCatalog(memoryRoot(), { log: silentLogger }), log: silentLogger, onBatch: (s) => summaries.push(s),
    });
    await pipeline.assign('reddit_tail', 0);
    await runLoop({ pipeline, source: burst(msgs), log: silentLogger, untilIdleMs: 300, signal: AbortSignal.timeout(20_000) });
    assert.equal(pipeline.totals.rows, 3);
    assert.deepEqual(summaries.map((s) => s.reason), ['latency']);
  });
});
