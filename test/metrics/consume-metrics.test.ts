/** Consume metrics without a broker: reason classes, counters from batches, lag and readiness from fakes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IngestPipeline } from '../../src/ingest/pipeline.ts';
import type { BatchSummary } from '../../src/ingest/summary.ts';
import { deadLetterClass, tableLabel } from '../../src/metrics/consume-metrics.ts';
import { ConsumeMonitor, type MonitoredSource } from '../../src/service/consume-monitor.ts';
import { ReddStreamError } from '../../src/errors.ts';

const summary = (over: Partial<BatchSummary> = {}): BatchSummary => ({
  table: 'tech',
  version: 7,
  rows: 10,
  deadLetters: 2,
  deadLetterReasons: [
    { topic: 'reddit_tech', partition: 0, offset: 3n, error: 'invalid JSON: Unexpected token' },
    { topic: 'reddit_tech', partition: 0, offset: 4n, error: 'field "score": "abc" is not a number' },
  ],
  duplicates: 1,
  skipped: 0,
  partitions: [],
  ms: 120,
  reason: 'messages',
  firstRows: [],
  ...over,
});

function monitorWith(parts: Array<{ committed: bigint | null; oldestPendingAt: number | null }>, now: number) {
  let connected = true;
  let ends: Array<{ topic: string; partition: number; end: bigint }> | Error = parts.map((_, i) => ({
    topic: 'reddit_tech',
    partition: i,
    end: 100n,
  }));
  const source: MonitoredSource = {
    health: () => ({ connected, assigned: parts.length }),
    endOffsets: async () => {
      if (ends instanceof Error) throw ends;
      return ends;
    },
  };
  const pipeline = {
    partitions: () => parts.map((p, i) => ({ topic: 'reddit_tech', partition: i, ...p })),
  } as unknown as IngestPipeline;
  const monitor = new ConsumeMonitor({ pipeline: () => pipeline, source: () => source, clock: () => now });
  return {
    monitor,
    fail: (err: Error) => {
      ends = err;
      connected = false;
    },
  };
}

describe('consume metrics', () => {
  it('classes dead-letter reasons into a few labels, never their text', () => {
    assert.equal(deadLetterClass('empty message (no value)'), 'empty');
    assert.equal(deadLetterClass('message too large: 5 bytes (limit 1)'), 'too_large');
    assert.equal(deadLetterClass('invalid JSON: Unexpected token } in JSON'), 'invalid_json');
    assert.equal(deadLetterClass('not a JSON object (got array)'), 'not_an_object');
    assert.equal(deadLetterClass('post has no "id"'), 'invalid_id');
    assert.equal(deadLetterClass('cannot be written to the table: x'), 'unwritable');
    assert.equal(deadLetterClass('field "score": bad'), 'invalid_field');
    assert.equal(deadLetterClass('something new'), 'other');
    assert.equal(tableLabel('s3://bucket/lake/tech/'), 'tech');
  });

  it('counts batches, spooled batches, conflicts and maintenance; lag is end minus the next offset to commit', async () => {
    const { monitor } = monitorWith(
      [
        { committed: 89n, oldestPendingAt: 1_000 },
        { committed: null, oldestPendingAt: null },
      ],
      31_000,
    );
    await monitor.probe();
    monitor.batch(summary());
    monitor.batch(summary({ spooled: true, version: null, rows: 5, deadLetters: 0, deadLetterReasons: [] }));
    monitor.conflict('tech');
    monitor.polled('reddit_tech', 17, 1700);
    monitor.maintenance({
      table: '/lake/tech',
      task: 'compaction',
      outcome: 'done',
      filesRemoved: 50,
      filesAdded: 1,
      bytesRemoved: 5000,
      bytesAdded: 4000,
      ms: 12,
    });
    const text = await monitor.registry.metrics();
    const has = (line: string) => assert.ok(text.split('\n').includes(line), `missing: ${line}`);
    has('reddit_stream_rows_committed_total{table="tech"} 15');
    has('reddit_stream_commits_total{table="tech"} 1');
    has('reddit_stream_batches_spooled_total{table="tech"} 1');
    has('reddit_stream_dead_letters_total{table="tech",reason="invalid_json"} 1');
    has('reddit_stream_dead_letters_total{table="tech",reason="invalid_field"} 1');
    has('reddit_stream_duplicates_merged_total{table="tech"} 2');
    has('reddit_stream_commit_conflicts_total{table="tech"} 1');
    has('reddit_stream_flushes_total{table="tech",reason="messages"} 2');
    has('reddit_stream_table_version{table="tech"} 7');
    has('reddit_stream_messages_received_total{topic="reddit_tech"} 17');
    has('reddit_stream_message_bytes_received_total{topic="reddit_tech"} 1700');
    has('reddit_stream_maintenance_runs_total{table="tech",task="compaction",outcome="done"} 1');
    has('reddit_stream_maintenance_files_total{table="tech",task="compaction",change="removed"} 50');
    has('reddit_stream_lag_messages{topic="reddit_tech",partition="0"} 10');
    has('reddit_stream_lag_messages{topic="reddit_tech",partition="1"} 100');
    has('reddit_stream_lag_seconds{topic="reddit_tech",partition="0"} 30');
    has('reddit_stream_lag_seconds{topic="reddit_tech",partition="1"} 0');
  });

  it('readiness names what is wrong: Kafka unreachable, the table store failing', async () => {
    const { monitor, fail } = monitorWith([{ committed: 1n, oldestPendingAt: null }], 0);
    assert.equal(monitor.readiness().ready, false, 'not ready before the broker answered once');
    await monitor.probe();
    assert.deepEqual(monitor.readiness(), { ready: true, reasons: [] });
    monitor.flushFailed('reddit_tech', new ReddStreamError('STORAGE_UNAVAILABLE', 'the store timed out'));
    fail(new Error('connect ECONNREFUSED'));
    await monitor.probe();
    assert.deepEqual(monitor.readiness(), {
      ready: false,
      reasons: ['Kafka is not reachable (connect ECONNREFUSED)', 'the table store is failing: the store timed out'],
    });
    monitor.batch(summary());
    assert.deepEqual(monitor.readiness().reasons, ['Kafka is not reachable (connect ECONNREFUSED)']);
  });
});
