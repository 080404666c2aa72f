/**
 * KafkaSource's partition states without a broker (the broker-backed
 * behaviour is in test/e2e/kafka.test.ts), with stand-ins for the client's
 * stream (pause, resume, fetch positions) and listOffsets: messages held for
 * a partition whose position cannot be read yet count toward the pause
 * threshold and are released in order; a partition with no table position
 * starts at the reset policy's offset, looked up, not wherever the stream
 * is; a late retry of an assignment since replaced does nothing.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { IngestPipeline } from '../../src/ingest/pipeline.ts';
import { TableCatalog } from '../../src/ingest/tables.ts';
import { KafkaSource, type GroupConsumer } from '../../src/kafka/source.ts';
import type { PartitionOwner } from '../../src/ingest/ports.ts';
import { silentLogger, type Logger } from '../../src/logger.ts';
import { ReddStreamError } from '../../src/errors.ts';
import { memoryRoot } from '../helpers/memory-root.ts';

const TOPIC = 'reddit_tech';
const enc = new TextEncoder();
const value = (o: number) =>
  Buffer.from(
    enc.encode(JSON.stringify({ id: `p${o}`, subreddit: 'tech', title: 't', created_utc: 1_700_000_000 + o })),
  );
const m = (o: number, partition = 0) => ({
  topic: TOPIC,
  partition,
  offset: BigInt(o),
  key: null,
  value: value(o),
  timestamp: 0n,
});

/** A fake of the client's consumer stream: records pause/resume; messages are delivered by the test. */
class FakeStream extends EventEmitter {
  readonly offsetsToFetch = new Map<string, bigint>();
  private readonly calls: string[];
  constructor(calls: string[]) {
    super();
    this.calls = calls;
  }
  pause() {
    this.calls.push('pause');
  }
  resume() {
    this.calls.push('resume');
  }
  async close() {}
}

/** A fake group consumer: the test sets its assignments; `reset` is what listOffsets answers. */
class FakeConsumer extends EventEmitter implements GroupConsumer {
  assignments: Array<{ topic: string; partitions: number[] }> = [];
  private readonly stream: FakeStream;
  private readonly reset: () => bigint;
  constructor(stream: FakeStream, reset: () => bigint) {
    super();
    this.stream = stream;
    this.reset = reset;
  }
  async consume() {
    return this.stream;
  }
  async listOffsets({ topics, partitions }: { topics: string[]; partitions: Record<string, number[]> }) {
    return new Map(topics.map((t) => [t, Object.fromEntries(partitions[t].map((p) => [p, this.reset()]))]));
  }
  async commit() {}
  async close() {}
}

/** A started source over fakes of the Kafka client. */
async function standIn(
  owner: PartitionOwner,
  opts: {
    maxQueued?: number;
    reset?: () => bigint;
    policy?: 'earliest' | 'latest';
    log?: Logger;
    retryMs?: number;
  } = {},
) {
  const calls: string[] = [];
  const stream = new FakeStream(calls);
  const consumer = new FakeConsumer(stream, opts.reset ?? (() => 0n));
  const src = new KafkaSource({
    bootstrapBrokers: ['127.0.0.1:1'],
    groupId: 'g',
    clientId: 'c',
    topics: [TOPIC],
    autoOffsetReset: opts.policy ?? 'earliest',
    owner,
    log: opts.log ?? silentLogger,
    maxQueued: opts.maxQueued,
    retryMs: opts.retryMs,
    createConsumer: () => consumer,
  });
  await src.start();
  const fetchAt = stream.offsetsToFetch;
  const join = (parts: number[]) => {
    consumer.assignments = parts.length ? [{ topic: TOPIC, partitions: parts }] : [];
    consumer.emit('consumer:group:join');
  };
  const deliver = (o: number, partition = 0) => stream.emit('data', m(o, partition));
  return { src, calls, fetchAt, join, deliver };
}

async function until(what: string, cond: () => boolean) {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

describe('KafkaSource partition states', () => {
  it('held messages never pause the stream: beyond the limit they are dropped, then fetched again from the position', async () => {
    let failing = true;
    const pipeline = {
      assign: async () => {
        if (failing) throw new Error('table store down');
        return 2n;
      },
      idle: async () => undefined,
      revoke: () => undefined,
    };
    const { src, calls, fetchAt, join, deliver } = await standIn(pipeline, { maxQueued: 10, retryMs: 20 });
    join([0, 1]);
    await src.settled(); // partition 0's table read fails: it stays pending, retried later (partition 1 too, same table)
    for (let o = 0; o < 10; o++) deliver(o);
    assert.deepEqual(calls, [], 'held messages do not pause');
    deliver(10); // beyond the limit: what partition 0 held is dropped
    assert.equal(src.heldCount(TOPIC, 0), 0);
    deliver(11);
    assert.deepEqual(calls, [], 'still not paused');
    assert.deepEqual(await src.poll(100), [], 'nothing is released before the position is known');
    failing = false; // the next retry reads the position
    await until('the retried position read', () => fetchAt.get(`${TOPIC}:0`) === 2n);
    assert.deepEqual(await src.poll(100), [], 'offset 11 is no start: 2 is fetched again first');
    for (let o = 2; o < 13; o++) deliver(o);
    assert.deepEqual(
      (await src.poll(100)).map((x: { offset: bigint }) => x.offset),
      Array.from({ length: 11 }, (_, i) => BigInt(i + 2)),
      'released in order, none lost',
    );
    // Queued (released) messages still pause the stream at the limit, and resume once polled.
    calls.length = 0;
    for (let o = 13; o < 23; o++) deliver(o);
    assert.deepEqual(calls, ['pause']);
    await src.poll(100);
    assert.deepEqual(calls, ['pause', 'resume']);
  });

  it('with no position in the table, seeks to the reset offset it looks up, also when re-seeked after a failed flush', async () => {
    const pipeline = { assign: async () => null, idle: async () => undefined, revoke: () => undefined };
    const { src, fetchAt, join, deliver } = await standIn(pipeline, { reset: () => 3n });
    // The stream's fetch position is left from an earlier ownership (offset 20).
    fetchAt.set(`${TOPIC}:0`, 20n);
    join([0]);
    await src.settled();
    assert.equal(fetchAt.get(`${TOPIC}:0`), 3n, 'sought to the earliest offset, not left at 20');
    deliver(20); // a fetch in flight from the old position: dropped, the seek repeated
    assert.deepEqual(await src.poll(10), []);
    for (const o of [3, 4, 5]) deliver(o);
    assert.deepEqual(
      (await src.poll(10)).map((x) => x.offset),
      [3n, 4n, 5n],
    );
    // A flush of 3-5 failed and nothing is committed: back to where this ownership started.
    src.seek(TOPIC, 0, null);
    assert.equal(fetchAt.get(`${TOPIC}:0`), 3n);
    deliver(6);
    deliver(3);
    assert.deepEqual(
      (await src.poll(10)).map((x) => x.offset),
      [3n],
    );
  });

  it('a late retry of an assignment that was revoked and assigned again does not reset the live one', async () => {
    const root = memoryRoot();
    const mk = () =>
      new IngestPipeline({
        group: 'g',
        policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
        catalog: new TableCatalog(root, { log: silentLogger }),
        log: silentLogger,
      });
    // The table already holds offsets 0-4.
    const earlier = mk();
    await earlier.assign(TOPIC, 0);
    for (let o = 0; o < 5; o++) earlier.push({ ...m(o), timestamp: 0 });
    await earlier.flushAll();
    const pipeline = mk();
    const { src, fetchAt, join, deliver } = await standIn(pipeline);
    const pushAll = async () => {
      for (const x of await src.poll(1000)) pipeline.push(x);
    };
    root.setFailing(true);
    join([0]); // reading the position fails: a retry in a second
    await src.settled();
    root.setFailing(false);
    join([]); // revoked ...
    join([0]); // ... and assigned back: position 4 read, seek to 5
    await src.settled();
    assert.equal(fetchAt.get(`${TOPIC}:0`), 5n);
    for (let o = 5; o < 10; o++) deliver(o);
    await pushAll();
    assert.equal(pipeline.buffered(), 5);
    await new Promise((r) => setTimeout(r, 1300)); // the first assignment's retry is due
    await src.settled();
    assert.equal(pipeline.buffered(), 5, 'the buffered offsets 5-9 are still there');
    for (let o = 10; o < 15; o++) deliver(o);
    await pushAll();
    await pipeline.flushAll();
    const snap = await loadSnapshot(root.store('tech'));
    const ids = (await readAllRows(snap)).map((r) => Number(String(r.id).slice(1))).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: 15 }, (_, i) => i),
    );
    assert.equal(snap.txnVersion(`g-${TOPIC}-0`), 14);
  });

  it('a partition revoked and assigned back while its failing flush is in flight is positioned by its new read, not the stale re-seek', async () => {
    const root = memoryRoot();
    const pipeline = new IngestPipeline({
      group: 'g',
      policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
      catalog: new TableCatalog(root, { log: silentLogger }),
      log: silentLogger,
    });
    const { src, join, deliver } = await standIn(pipeline);
    const pushAll = async () => {
      let n = 0;
      for (const x of await src.poll(1000)) if (pipeline.push(x)) n++;
      return n;
    };
    join([0]);
    await src.settled();
    for (let o = 0; o < 5; o++) deliver(o);
    assert.equal(await pushAll(), 5);
    root.setFailing(true);
    // What the run loop does with a flush's outcome.
    const flush = pipeline.flushTopic(TOPIC, 'shutdown').then((out) => {
      for (const r of out.reseek) {
        src.seek(r.topic, r.partition, r.offset);
        pipeline.reseeked(r.topic, r.partition);
      }
      return out;
    });
    join([]); // rebalance: partition 0 goes to another member ...
    join([0]); // ... and comes back
    const out = await flush;
    assert.ok(out.error, 'the flush failed');
    root.setFailing(false);
    await src.settled();
    assert.deepEqual(
      pipeline.assigned().map((a) => a.partition),
      [0],
      'the pipeline has the partition again',
    );
    for (let o = 0; o < 5; o++) deliver(o);
    assert.equal(await pushAll(), 5, 'its messages are consumed');
  });

  it('a table that needs a person blocks only its own partitions: not positioning, reported, nothing held, tried again later', async () => {
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (m: string) => errors.push(m) };
    const pipeline = {
      assign: async (_t: string, p: number) => {
        if (p === 0) throw new ReddStreamError('SCHEMA_MISMATCH', 'table x cannot hold Reddit posts: score is string');
        return null;
      },
      idle: async () => undefined,
      revoke: () => undefined,
    };
    const { src, join, deliver } = await standIn(pipeline, { log, maxQueued: 10 });
    join([0, 1]);
    await src.settled();
    assert.equal(src.positioning(), false, 'nothing is still being positioned: --until-idle may end');
    assert.deepEqual(
      src.blocked().map((b) => [b.partition, b.error.code]),
      [[0, 'SCHEMA_MISMATCH']],
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0], /until its table is fixed/);
    for (let o = 0; o < 30; o++) {
      deliver(o, 0);
      deliver(o, 1);
    }
    assert.equal(src.heldCount(TOPIC, 0), 0, 'nothing held for the blocked partition');
    assert.deepEqual(
      (await src.poll(100)).map((x) => x.partition),
      Array(30).fill(1),
      'the other partition flows',
    );
  });

  it('with "latest", a partition without a table position starts at the end offset of when it was assigned', async () => {
    let end = 7n;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const pipeline = {
      assign: async () => {
        await gate;
        return null;
      },
      idle: async () => undefined,
      revoke: () => undefined,
    };
    const { src, fetchAt, join } = await standIn(pipeline, { policy: 'latest', reset: () => end });
    join([0]);
    await new Promise((r) => setImmediate(r)); // the end offset is looked up at assignment ...
    end = 12n; // ... more is produced while the table is read ...
    release();
    await src.settled();
    assert.equal(fetchAt.get(`${TOPIC}:0`), 7n, '... and is read: the position is the end when assigned');
  });
});
