/** The run loop's flush triggers with an in-process source (no Kafka). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QUIET_FLUSH_MIN_BYTES, quietFlushMs } from '../../src/ingest/flush-policy.ts';
import { IngestPipeline, type SourceMessage } from '../../src/ingest/pipeline.ts';
import type { BatchSummary } from '../../src/ingest/summary.ts';
import { TableCatalog } from '../../src/ingest/tables.ts';
import { silentLogger } from '../../src/logger.ts';
import { PostGenerator } from '../../src/reddit/generate.ts';
import { runLoop, type PollingSource } from '../../src/service/run-loop.ts';
import { garbageCollection, GC_ABOVE_RSS_BYTES } from '../../src/os/requested-gc.ts';
import { memoryRoot } from '../helpers/memory-root.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';

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
  return Array.from({ length: n }, (_, i) => ({
    topic,
    partition: 0,
    offset: BigInt(i),
    key: null,
    value: enc.encode(g.nextJson()),
  }));
}

async function run(
  messages: SourceMessage[],
  maxLatencyMs: number,
  collectGarbage?: { everyBytes: number; collect: () => void },
): Promise<{ summaries: BatchSummary[]; rows: number }> {
  const summaries: BatchSummary[] = [];
  const pipeline = new IngestPipeline({
    group: 'g',
    policy: { maxMessages: 1_000_000, maxBytes: 1 << 30, maxLatencyMs },
    catalog: new TableCatalog(memoryRoot(), { log: silentLogger }),
    log: silentLogger,
    onBatch: (s) => summaries.push(s),
  });
  await pipeline.assign('reddit_tail', 0);
  await runLoop({
    pipeline,
    source: burst(messages),
    log: silentLogger,
    untilIdleMs: 300,
    signal: AbortSignal.timeout(20_000),
    collectGarbage,
  });
  return { summaries, rows: pipeline.totals.rows };
}

describe('run loop', () => {
  it('waits for a pause of a quarter of the latency limit (at least 100 ms) before a caught-up flush', () => {
    const p = (maxLatencyMs: number) => quietFlushMs({ maxMessages: 1, maxBytes: 1, maxLatencyMs });
    assert.deepEqual([p(1000), p(60_000), p(200)], [250, 15_000, 100]);
  });

  it('flushes a table holding a catch-up tail as soon as the source goes quiet, not at the latency limit', async () => {
    const msgs = posts(600);
    assert.ok(msgs.reduce((n, m) => n + m.value!.byteLength, 0) >= QUIET_FLUSH_MIN_BYTES);
    // Only the quiet rule (after 2 s without messages) can flush before the 8 s latency limit.
    const r = await run(msgs, 8000);
    assert.equal(r.rows, 600);
    assert.deepEqual(
      r.summaries.map((s) => s.reason),
      ['caught up'],
    );
  });

  it('leaves a small buffer to its latency limit (steady trickles keep their batches)', async () => {
    const r = await run(posts(3), 1500);
    assert.equal(r.rows, 3);
    assert.deepEqual(
      r.summaries.map((s) => s.reason),
      ['latency'],
    );
  });

  it('asks for a garbage collection after every `everyBytes` of polled values', async () => {
    const msgs = posts(50);
    const bytes = msgs.reduce((n, m) => n + m.value!.byteLength, 0);
    let calls = 0;
    // Polled in one go: one request per poll at most, so one here.
    const r = await run(msgs, 1000, { everyBytes: Math.floor(bytes / 3), collect: () => calls++ });
    assert.equal(r.rows, 50);
    assert.equal(calls, 1);
    let none = 0;
    await run(posts(50), 1000, { everyBytes: bytes + 1, collect: () => none++ });
    assert.equal(none, 0);
  });

  it('--until-idle waits for messages a re-seek asks for again, and for partitions still positioning', async () => {
    const TOPIC = 'reddit_tech';
    const msg = (o: number): SourceMessage => ({
      topic: TOPIC,
      partition: 0,
      offset: BigInt(o),
      key: null,
      value: enc.encode(JSON.stringify({ id: `p${o}`, subreddit: 'tech', title: 't', created_utc: 1_700_000_000 + o })),
    });
    const root = memoryRoot();
    const mk = () =>
      new IngestPipeline({
        group: 'g',
        policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 200 },
        catalog: new TableCatalog(root, { log: silentLogger }),
        log: silentLogger,
      });
    const a = mk();
    await a.assign(TOPIC, 0);
    // Another worker briefly owned the partition and committed offsets 0-4: a's flush of 0-9 conflicts and re-seeks to 5.
    const b = mk();
    await b.assign(TOPIC, 0);
    for (let o = 0; o < 5; o++) b.push(msg(o));
    await b.flushAll();
    let queue = Array.from({ length: 10 }, (_, i) => msg(i));
    let positioning = true;
    const source: PollingSource = {
      async poll() {
        const q = queue;
        queue = [];
        return q;
      },
      // Like Kafka: the re-read arrives after a fetch round trip, longer than the idle limit below.
      seek(_t, _p, offset) {
        setTimeout(() => {
          queue.push(...Array.from({ length: 10 }, (_, i) => msg(i)).filter((m) => m.offset >= (offset ?? 0n)));
        }, 250);
      },
      exhausted: () => false,
      positioning: () => positioning,
    };
    // A partition whose position is still being read keeps the loop running past the idle limit.
    setTimeout(() => {
      positioning = false;
    }, 1200);
    const started = Date.now();
    await runLoop({ pipeline: a, source, log: silentLogger, untilIdleMs: 200, signal: AbortSignal.timeout(10_000) });
    assert.ok(Date.now() - started >= 1200, 'ran until nothing was positioning');
    assert.equal(
      (await loadSnapshot(root.store('tech'))).txnVersion(`g-${TOPIC}-0`),
      9,
      'offsets 5-9 committed before exiting',
    );
  });

  it('requests a major GC only while RSS is at or above the floor; none when disabled', () => {
    const calls: unknown[] = [];
    let rss = GC_ABOVE_RSS_BYTES - 1;
    const g = garbageCollection(1 << 20, { rss: () => rss, gc: (o) => calls.push(o) })!;
    assert.equal(g.everyBytes, 1 << 20);
    g.collect();
    assert.equal(calls.length, 0);
    rss = GC_ABOVE_RSS_BYTES;
    g.collect();
    assert.deepEqual(calls, [{ type: 'major', execution: 'async' }]);
    assert.equal(garbageCollection(0, { gc: (o) => calls.push(o) }), undefined);
    // The real one: V8's gc, exposed at run time.
    const real = garbageCollection(1 << 20, { aboveRssBytes: 0 })!;
    assert.equal(typeof real.collect, 'function');
    real.collect();
  });
});
