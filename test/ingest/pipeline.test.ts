/**
 * The ingest pipeline's exactly-once behaviour without a broker: txn offsets
 * in the table, skipping what is committed, dead letters, conflicts between
 * workers, revocation and storage failures.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { IngestPipeline, tableForTopic, type SourceMessage } from '../../src/ingest/pipeline.ts';
import { TableCatalog } from '../../src/ingest/tables.ts';
import { PackBuffers } from '../../src/ingest/packed-messages.ts';
import { inlinePostBatchEncoder, type PostBatchEncoder } from '../../src/ingest/post-batch.ts';
import { WorkerPostBatchEncoder } from '../../src/ingest/worker-encoder.ts';
import { silentLogger } from '../../src/logger.ts';
import { memoryRoot } from '../helpers/memory-root.ts';

const enc = new TextEncoder();
const msg = (topic: string, partition: number, offset: number, value?: string): SourceMessage => ({
  topic,
  partition,
  offset: BigInt(offset),
  key: enc.encode(`t3_${topic}_${partition}_${offset}`),
  value: enc.encode(
    value ??
      JSON.stringify({
        id: `${topic}-${partition}-${offset}`,
        subreddit: 'x',
        title: `post ${offset}`,
        score: offset,
        created_utc: 1_700_000_000 + offset,
      }),
  ),
});

// Every behaviour holds whether batches are encoded in this thread or on worker
// threads (there split into parts of ~2 KB, so most batches span several jobs).
const workers = new WorkerPostBatchEncoder(2, { inlineBelowBytes: 0, jobBytes: 2048 });
after(() => workers.close());
const encoders: Array<[string, PostBatchEncoder]> = [
  ['inline encoder', inlinePostBatchEncoder],
  ['worker encoder', workers],
];
let encoder: PostBatchEncoder = inlinePostBatchEncoder;

function pipeline(root: ReturnType<typeof memoryRoot>, group = 'g', maxMessages = 1000) {
  return new IngestPipeline({
    group,
    policy: { maxMessages, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
    catalog: new TableCatalog(root, { log: silentLogger }),
    log: silentLogger,
    encoder,
  });
}

/** What the run loop does after the source applied a flush's re-seeks. */
function seeked(p: IngestPipeline, out: { reseek: Array<{ topic: string; partition: number }> }) {
  for (const r of out.reseek) p.reseeked(r.topic, r.partition);
}

async function ids(root: ReturnType<typeof memoryRoot>, table: string): Promise<string[]> {
  return (await readAllRows(await loadSnapshot(root.store(table)))).map((r) => r.id as string).sort();
}

/** A pipeline owning reddit_tech/0 and /1 with offsets 0-4 buffered in each. */
async function twoPartitionsBuffered(root: ReturnType<typeof memoryRoot>) {
  const p = pipeline(root);
  await p.assign('reddit_tech', 0);
  await p.assign('reddit_tech', 1);
  for (let o = 0; o < 5; o++) {
    p.push(msg('reddit_tech', 0, o));
    p.push(msg('reddit_tech', 1, o));
  }
  return p;
}

/** a and b both own reddit_tech/0 and buffered offsets 0-9; b commits first, so a's flush conflicts. */
async function lostRace(root: ReturnType<typeof memoryRoot>) {
  const a = pipeline(root);
  const b = pipeline(root);
  await a.assign('reddit_tech', 0);
  await b.assign('reddit_tech', 0);
  for (let o = 0; o < 10; o++) {
    a.push(msg('reddit_tech', 0, o));
    b.push(msg('reddit_tech', 0, o));
  }
  await b.flushAll();
  return { a, out: await a.flushAll() };
}

/** Two workers that both own reddit_tech/0: a buffered offsets 0-5, b 0-1; odd offsets are bad messages. */
async function twoOwners(root: ReturnType<typeof memoryRoot>) {
  const a = pipeline(root);
  const b = pipeline(root);
  await a.assign('reddit_tech', 0);
  await b.assign('reddit_tech', 0);
  const push = (p: IngestPipeline, from: number, to: number) => {
    for (let o = from; o < to; o++) p.push(msg('reddit_tech', 0, o, o % 2 ? 'bad' : undefined));
  };
  push(a, 0, 6);
  push(b, 0, 2);
  return { a, b, push };
}

/** After the race and a's re-read: each dead letter and each post exactly once. */
async function assertExactAfterRace(root: ReturnType<typeof memoryRoot>) {
  const dead = (await readAllRows(await loadSnapshot(root.store('_dead_letters'))))
    .map((r) => r.offset as bigint)
    .sort((x, y) => Number(x - y));
  assert.deepEqual(dead, [1n, 3n, 5n]);
  assert.deepEqual(await ids(root, 'tech'), ['reddit_tech-0-0', 'reddit_tech-0-2', 'reddit_tech-0-4']);
}

for (const [label, enc] of encoders) {
  describe(`IngestPipeline (${label})`, () => {
    it('maps topics to tables', () => {
      encoder = enc;
      assert.equal(tableForTopic('reddit_DataEngineering'), 'dataengineering');
      assert.throws(() => tableForTopic('reddit_<bad>'), /does not name a valid subreddit/);
    });

    it("a post sent twice within one partition's batch lands once (the later one); in two partitions, twice", async () => {
      encoder = enc;
      const root = memoryRoot();
      const p = pipeline(root);
      await p.assign('reddit_tech', 0);
      await p.assign('reddit_tech', 1);
      const post = (id: string, title: string) =>
        JSON.stringify({ id, subreddit: 'tech', title, score: 1, created_utc: 1_700_000_000 });
      // Far apart in partition 0: with the worker encoder's 2 KB parts, in different parts.
      for (let o = 0; o < 60; o++) {
        p.push(msg('reddit_tech', 0, o, o === 2 ? post('dup', 'first') : o === 57 ? post('dup', 'second') : undefined));
      }
      p.push(msg('reddit_tech', 1, 0, post('dup', 'other partition')));
      await p.flushAll();
      const rows = (await readAllRows(await loadSnapshot(root.store('tech')), { columns: ['id', 'title'] }))
        .filter((r) => r.id === 'dup')
        .map((r) => r.title)
        .sort();
      assert.deepEqual(rows, ['other partition', 'second']);
    });

    it('commits one txn per partition with the data and resumes after it', async () => {
      const root = memoryRoot();
      const p1 = pipeline(root);
      assert.equal(await p1.assign('reddit_tech', 0), null);
      assert.equal(await p1.assign('reddit_tech', 1), null);
      for (let o = 0; o < 50; o++) {
        p1.push(msg('reddit_tech', 0, o));
        p1.push(msg('reddit_tech', 1, o));
      }
      const out = await p1.flushAll();
      assert.equal(out.summaries.length, 1, 'one commit for both partitions of the table');
      assert.deepEqual(
        out.summaries[0].partitions.map((p) => [p.partition, p.from, p.to]),
        [
          [0, 0n, 49n],
          [1, 0n, 49n],
        ],
      );
      const snap = await loadSnapshot(root.store('tech'));
      assert.equal(snap.txnVersion('g-reddit_tech-0'), 49);
      assert.equal(snap.txnVersion('g-reddit_tech-1'), 49);

      // A restarted worker resumes after the committed offsets and skips re-delivered messages.
      const p2 = pipeline(root);
      assert.equal(await p2.assign('reddit_tech', 0), 50n);
      let accepted = 0;
      for (let o = 0; o < 80; o++) if (p2.push(msg('reddit_tech', 0, o))) accepted++;
      assert.equal(accepted, 30);
      await p2.flushAll();
      const all = await ids(root, 'tech');
      assert.equal(all.length, 130);
      assert.equal(new Set(all).size, 130);
      // another group has its own position
      assert.equal(await pipeline(root, 'other').assign('reddit_tech', 0), null);
    });

    it('sends bad messages to the dead-letter table, exactly once, without blocking the partition', async () => {
      const root = memoryRoot();
      const p = pipeline(root);
      await p.assign('reddit_news', 0);
      p.push(msg('reddit_news', 0, 0));
      p.push(msg('reddit_news', 0, 1, '{not json'));
      p.push(msg('reddit_news', 0, 2, '[1]'));
      p.push({ ...msg('reddit_news', 0, 3), value: null });
      p.push(msg('reddit_news', 0, 4, '{"title": "no id"}'));
      p.push(msg('reddit_news', 0, 5));
      const out = await p.flushAll();
      assert.equal(out.summaries[0].rows, 2);
      assert.equal(out.summaries[0].deadLetters, 4);
      const dlq = await loadSnapshot(root.store('_dead_letters'));
      const rows = await readAllRows(dlq);
      assert.deepEqual(rows.map((r) => r.offset).sort(), [1n, 2n, 3n, 4n]);
      assert.ok(rows.every((r) => r.topic === 'reddit_news' && r.partition === 0 && typeof r.error === 'string'));
      assert.match(rows.find((r) => r.offset === 1n)!.error as string, /invalid JSON/);
      assert.equal(new TextDecoder().decode(rows.find((r) => r.offset === 2n)!.value as Uint8Array), '[1]');
      assert.equal(dlq.txnVersion('g-reddit_news-0'), 4);
    });

    it('keeps copies of values and keys: the source may reuse its buffers as soon as push returns', async () => {
      const root = memoryRoot();
      const p = pipeline(root);
      await p.assign('reddit_news', 0);
      // Like Kafka's messages: Node Buffer views of one socket chunk (a Buffer's slice is a view too).
      const chunk = Buffer.alloc(4096);
      let at = 0;
      const view = (text: string) => {
        const n = chunk.write(text, at);
        at += n;
        return chunk.subarray(at - n, at);
      };
      for (let o = 0; o < 3; o++) {
        p.push({
          topic: 'reddit_news',
          partition: 0,
          offset: BigInt(o),
          key: view(`key-${o}`),
          value: view(JSON.stringify({ id: `n${o}`, title: `t${o}` })),
        });
      }
      p.push({ topic: 'reddit_news', partition: 0, offset: 3n, key: view('key-of-empty'), value: null });
      chunk.fill(0x7a); // the chunk is reused: all 'z'
      const out = await p.flushAll();
      assert.equal(out.summaries[0].rows, 3);
      assert.deepEqual(await ids(root, 'news'), ['n0', 'n1', 'n2']);
      const dead = await readAllRows(await loadSnapshot(root.store('_dead_letters')));
      assert.deepEqual(
        dead.map((r) => [r.offset, new TextDecoder().decode(r.key as Uint8Array), r.error]),
        [[3n, 'key-of-empty', 'empty message (no value)']],
      );
    });

    it('a crash between the dead-letter commit and the data commit duplicates nothing', async () => {
      const root = memoryRoot();
      const p = pipeline(root);
      await p.assign('reddit_news', 0);
      p.push(msg('reddit_news', 0, 0, 'bad'));
      p.push(msg('reddit_news', 0, 1));
      // Simulate: dead letters committed, then the process died before the data commit.
      const failingAppend = await new TableCatalog(root, { log: silentLogger }).postTable('news');
      void failingAppend;
      const catalog = (p as any).opts.catalog as TableCatalog;
      const table = await catalog.postTable('news');
      const original = table.commitPrepared.bind(table);
      table.commitPrepared = async () => {
        throw new Error('killed');
      };
      const out = await p.flushAll();
      assert.ok(out.error);
      table.commitPrepared = original;
      // restart
      const p2 = pipeline(root);
      assert.equal(await p2.assign('reddit_news', 0), null);
      p2.push(msg('reddit_news', 0, 0, 'bad'));
      p2.push(msg('reddit_news', 0, 1));
      await p2.flushAll();
      assert.equal((await readAllRows(await loadSnapshot(root.store('_dead_letters')))).length, 1);
      assert.deepEqual(await ids(root, 'news'), ['reddit_news-0-1']);
    });

    it('a txn conflict (another worker took the partition) re-seeks instead of duplicating', async () => {
      const root = memoryRoot();
      const { a, out } = await lostRace(root);
      seeked(a, out); // as the source does once it re-seeks
      assert.equal(out.summaries.length, 0);
      assert.deepEqual(out.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 10n }]);
      assert.equal((await ids(root, 'tech')).length, 10);
      // after the re-seek, a continues from 10 without re-adding 0..9
      for (let o = 0; o < 15; o++) a.push(msg('reddit_tech', 0, o));
      await a.flushAll();
      const all = await ids(root, 'tech');
      assert.equal(all.length, 15);
      assert.equal(new Set(all).size, 15);
    });

    it('a dead-letter txn conflict re-seeks instead of committing data past unseen dead letters', async () => {
      const root = memoryRoot();
      const { a, b, push } = await twoOwners(root);
      // Freeze a's view of the dead-letter table, so b's commit lands in a race a loses.
      const aDlq = await ((a as any).opts.catalog as TableCatalog).deadLetterTable();
      await aDlq.refresh();
      aDlq.refresh = async () => aDlq.snapshot;
      await b.flushAll();
      const out = await a.flushAll();
      seeked(a, out); // as the source does once it re-seeks
      // the conflict is caught (data or dead-letter side): nothing committed, re-seek
      assert.equal(out.summaries.length, 0);
      assert.deepEqual(out.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 2n }]);
      assert.equal((await loadSnapshot(root.store('tech'))).txnVersion('g-reddit_tech-0'), 1, 'a committed no data');
      delete (aDlq as any).refresh;
      push(a, 2, 6);
      await a.flushAll();
      await assertExactAfterRace(root);
    });

    it('a worker that loses the race between its checks and its dead-letter commit duplicates no dead letter', async () => {
      const root = memoryRoot();
      const { a, b, push } = await twoOwners(root);
      // a passes its checks; b commits (dead letter 1, data 0) before a commits anything.
      const aTable = await ((a as any).opts.catalog as TableCatalog).postTable('tech');
      const prepare = aTable.prepareEncodedAppend.bind(aTable);
      aTable.prepareEncodedAppend = async (...args) => {
        const r = await prepare(...args);
        await b.flushAll();
        return r;
      };
      const out = await a.flushAll();
      seeked(a, out); // as the source does once it re-seeks
      delete (aTable as any).prepareEncodedAppend;
      assert.equal(out.summaries.length, 0);
      assert.deepEqual(out.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 2n }]);
      const dead = (await readAllRows(await loadSnapshot(root.store('_dead_letters')))).map((r) => r.offset);
      assert.deepEqual(dead, [1n], "b's dead letter once; a committed none");
      push(a, 2, 6);
      await a.flushAll();
      await assertExactAfterRace(root);
    });

    it('after a reset, messages still arriving from the old position are refused until the source re-seeks (none of the re-read range is skipped)', async () => {
      const root = memoryRoot();
      const { a, out } = await lostRace(root); // conflict: re-seek to 10
      assert.deepEqual(out.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 10n }]);
      // The source had already fetched further: these arrive before the seek is applied.
      assert.equal(a.push(msg('reddit_tech', 0, 12)), false);
      assert.equal(a.push(msg('reddit_tech', 0, 13)), false);
      seeked(a, out);
      for (let o = 10; o < 16; o++) assert.equal(a.push(msg('reddit_tech', 0, o)), true, `offset ${o} after the seek`);
      await a.flushAll();
      const all = await ids(root, 'tech');
      assert.deepEqual(all, Array.from({ length: 16 }, (_, o) => `reddit_tech-0-${o}`).sort());
    });

    it('a flush that cannot even pack its messages (no memory) is a failed flush: re-read, in-flight bytes released', async () => {
      const root = memoryRoot();
      let fail = true;
      const buffers = new PackBuffers();
      const flaky: PostBatchEncoder = {
        encode: encoder.encode.bind(encoder),
        parallelism: 1,
        buffers: {
          acquire: (n: number) => {
            if (fail) {
              fail = false;
              throw new RangeError('Array buffer allocation failed');
            }
            return buffers.acquire(n);
          },
          release: (b?: ArrayBuffer) => buffers.release(b),
        } as PackBuffers,
      };
      const p = new IngestPipeline({
        group: 'g',
        policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
        catalog: new TableCatalog(root, { log: silentLogger }),
        log: silentLogger,
        encoder: flaky,
      });
      await p.assign('reddit_tech', 0);
      for (let o = 0; o < 5; o++) p.push(msg('reddit_tech', 0, o));
      const out = await p.flushAll();
      assert.match(out.error?.message ?? '', /allocation failed/);
      assert.deepEqual(out.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 0n }]);
      assert.equal(p.inFlightBytes, 0);
      seeked(p, out);
      for (let o = 0; o < 5; o++) assert.equal(p.push(msg('reddit_tech', 0, o)), true);
      await p.flushAll();
      assert.equal((await ids(root, 'tech')).length, 5);
    });

    it('a stale owner that commits late cannot make the new owner duplicate its range', async () => {
      const root = memoryRoot();
      const a = pipeline(root);
      const b = pipeline(root);
      await a.assign('reddit_tech', 0);
      await b.assign('reddit_tech', 0); // b took over before a committed: both start at "none"
      for (let o = 0; o < 10; o++) a.push(msg('reddit_tech', 0, o));
      await a.flushAll(); // a commits 0..9 late
      for (let o = 0; o < 15; o++) b.push(msg('reddit_tech', 0, o));
      const out = await b.flushAll();
      seeked(b, out); // as the source does once it re-seeks
      assert.equal(out.summaries.length, 0);
      assert.deepEqual(out.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 10n }]);
      for (let o = 10; o < 15; o++) b.push(msg('reddit_tech', 0, o));
      await b.flushAll();
      const all = await ids(root, 'tech');
      assert.equal(all.length, 15);
      assert.equal(new Set(all).size, 15);
    });

    it('never commits data of a revoked partition', async () => {
      const root = memoryRoot();
      const p = await twoPartitionsBuffered(root);
      p.revoke('reddit_tech', 1);
      assert.equal(p.push(msg('reddit_tech', 1, 5)), false);
      const out = await p.flushAll();
      assert.deepEqual(
        out.summaries[0].partitions.map((x) => x.partition),
        [0],
      );
      const snap = await loadSnapshot(root.store('tech'));
      assert.equal(snap.txnVersion('g-reddit_tech-1'), undefined);
      assert.equal((await readAllRows(snap)).length, 5);
    });

    it('a storage outage loses nothing: the batch is re-read from the committed offset', async () => {
      const root = memoryRoot();
      const p = pipeline(root);
      await p.assign('reddit_tech', 0);
      for (let o = 0; o < 10; o++) p.push(msg('reddit_tech', 0, o));
      await p.flushAll();
      for (let o = 10; o < 20; o++) p.push(msg('reddit_tech', 0, o));
      root.setFailing(true);
      const failed = await p.flushAll();
      seeked(p, failed); // as the source does once it re-seeks
      assert.ok(failed.error);
      assert.deepEqual(failed.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 10n }]);
      root.setFailing(false);
      // the source re-delivers from 10
      for (let o = 10; o < 20; o++) assert.equal(p.push(msg('reddit_tech', 0, o)), true);
      await p.flushAll();
      const all = await ids(root, 'tech');
      assert.equal(all.length, 20);
      assert.equal(new Set(all).size, 20);
    });

    it('flushes by size as messages arrive and reports what is due', async () => {
      const root = memoryRoot();
      const p = pipeline(root, 'g', 5);
      await p.assign('reddit_aa', 0);
      await p.assign('reddit_bb', 0);
      for (let o = 0; o < 5; o++) p.push(msg('reddit_aa', 0, o));
      p.push(msg('reddit_bb', 0, 0));
      assert.deepEqual(p.dueTopics(), ['reddit_aa']);
      const out = await p.flushDue();
      assert.deepEqual(
        out.summaries.map((s) => s.table),
        ['aa'],
      );
      assert.equal(p.buffered(), 1);
    });

    it('runs flushes of one topic in parallel and commits them in order, each expecting the previous one', async () => {
      const root = memoryRoot();
      const p = pipeline(root);
      await p.assign('reddit_tech', 0);
      await p.assign('reddit_tech', 1);
      const flushes = [];
      for (let b = 0; b < 3; b++) {
        for (let o = b * 20; o < b * 20 + 20; o++) {
          p.push(msg('reddit_tech', 0, o));
          p.push(msg('reddit_tech', 1, o, o === b * 20 ? 'bad' : undefined));
        }
        flushes.push(p.flushTopic('reddit_tech', 'shutdown')); // taken now, before the earlier ones commit
      }
      const outs = await Promise.all(flushes);
      assert.ok(outs.every((o) => !o.error && o.summaries.length === 1));
      const v0 = outs[0].summaries[0].version!;
      assert.deepEqual(
        outs.map((o) => o.summaries[0].version),
        [v0, v0 + 1, v0 + 2],
        'data commits in the order the flushes started',
      );
      assert.deepEqual(
        outs.map((o) => o.summaries[0].partitions.map((x) => [x.partition, x.from, x.to])),
        [0, 20, 40].map((f) => [
          [0, BigInt(f), BigInt(f + 19)],
          [1, BigInt(f), BigInt(f + 19)],
        ]),
      );
      const snap = await loadSnapshot(root.store('tech'));
      assert.equal(snap.txnVersion('g-reddit_tech-0'), 59);
      assert.equal(snap.txnVersion('g-reddit_tech-1'), 59);
      const all = await ids(root, 'tech');
      assert.equal(all.length, 117);
      assert.equal(new Set(all).size, 117);
      const dead = (await readAllRows(await loadSnapshot(root.store('_dead_letters')))).map((r) => [
        r.offset,
        new TextDecoder().decode(r.key as Uint8Array),
        new TextDecoder().decode(r.value as Uint8Array),
      ]);
      assert.deepEqual(
        dead.sort((x, y) => Number((x[0] as bigint) - (y[0] as bigint))),
        [0, 20, 40].map((o) => [BigInt(o), `t3_reddit_tech_1_${o}`, 'bad']),
      );
    });

    it('drops a batch taken before its partition was revoked, and later batches of a failed one', async () => {
      const root = memoryRoot();
      const p = await twoPartitionsBuffered(root);
      const first = p.flushTopic('reddit_tech', 'shutdown');
      p.revoke('reddit_tech', 1); // while the batch is being encoded
      const out = await first;
      seeked(p, out);
      assert.equal(out.summaries.length, 0, 'the batch mixed a revoked partition: not committed');
      assert.deepEqual(
        out.reseek,
        [{ topic: 'reddit_tech', partition: 0, offset: 0n }],
        'the partition still owned restarts from the table',
      );
      assert.equal((await loadSnapshot(root.store('tech'))).version, 0, 'nothing but the table creation');

      // A failed flush: the batch taken after it must not commit past the gap.
      for (let o = 0; o < 5; o++) p.push(msg('reddit_tech', 0, o));
      root.setFailing(true);
      const a = p.flushTopic('reddit_tech', 'shutdown');
      for (let o = 5; o < 10; o++) p.push(msg('reddit_tech', 0, o));
      const b = p.flushTopic('reddit_tech', 'shutdown');
      const ra = await a;
      root.setFailing(false);
      const rb = await b;
      seeked(p, ra);
      seeked(p, rb);
      assert.ok(ra.error);
      assert.deepEqual(ra.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 0n }]);
      assert.equal(rb.summaries.length, 0, 'the later batch is dropped: its range starts after the failed one');
      assert.equal((await loadSnapshot(root.store('tech'))).txnVersion('g-reddit_tech-0'), undefined);
      for (let o = 0; o < 10; o++) assert.equal(p.push(msg('reddit_tech', 0, o)), true, `offset ${o} is re-read`);
      await p.flushAll();
      assert.equal((await ids(root, 'tech')).length, 10);
    });
  });
}

describe('IngestPipeline into a time-partitioned table', () => {
  it('worker-encoded flushes land in one partition per day of created_at, exactly once', async () => {
    const root = memoryRoot();
    const p = new IngestPipeline({
      group: 'g',
      policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
      catalog: new TableCatalog(root, { log: silentLogger, partitionBy: 'day' }),
      log: silentLogger,
      encoder: workers,
    });
    await p.assign('reddit_tech', 0);
    // 12-hour steps from 2023-11-14T22:13:20Z to 2023-11-21T10:13:20Z.
    for (let o = 0; o < 14; o++) {
      const post = { id: `p${o}`, subreddit: 'x', title: `${o}`, created_utc: 1_700_000_000 + o * 43_200 };
      p.push(msg('reddit_tech', 0, o, JSON.stringify(post)));
    }
    await p.flushAll();
    const snap = await loadSnapshot(root.store('tech'));
    assert.deepEqual(snap.partitionColumns, ['created_day']);
    const days = snap.files().map((f) => f.partitionValues.created_day);
    const expected = Array.from({ length: 8 }, (_, i) => `2023-11-${14 + i}`);
    assert.deepEqual([...new Set(days)].sort(), expected);
    assert.equal(snap.txnVersion('g-reddit_tech-0'), 13);
    const rows = await readAllRows(snap);
    assert.equal(rows.length, 14);
    for (const r of rows) {
      const day = new Date(Number((r.created_at as bigint) / 1000n)).toISOString().slice(0, 10);
      assert.equal(r.created_day, day, `row ${String(r.id)}`);
    }
  });
});
