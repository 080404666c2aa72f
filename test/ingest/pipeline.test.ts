/**
 * The ingest pipeline's exactly-once behaviour without a broker: txn offsets
 * in the table, skipping what is committed, dead letters, conflicts between
 * workers, revocation and storage failures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { IngestPipeline, tableForTopic, type SourceMessage } from '../../src/ingest/pipeline.ts';
import { TableCatalog } from '../../src/ingest/tables.ts';
import { silentLogger } from '../../src/logger.ts';
import { memoryRoot } from '../helpers/memory-root.ts';

const enc = new TextEncoder();
const msg = (topic: string, partition: number, offset: number, value?: string): SourceMessage => ({
  topic, partition, offset: BigInt(offset), key: enc.encode(`t3_${topic}_${partition}_${offset}`),
  value: enc.encode(value ?? JSON.stringify({ id: `${topic}-${partition}-${offset}`, subreddit: 'x', title: `post ${offset}`, score: offset, created_utc: 1_700_000_000 + offset })),
});

function pipeline(root: ReturnType<typeof memoryRoot>, group = 'g', maxMessages = 1000) {
  return new IngestPipeline({ group, policy: { maxMessages, maxBytes: 1 << 30, maxLatencyMs: 60_000 }, catalog: new TableCatalog(root, { log: silentLogger }), log: silentLogger });
}

async function ids(root: ReturnType<typeof memoryRoot>, table: string): Promise<string[]> {
  return (await readAllRows(await loadSnapshot(root.store(table)))).map((r) => r.id as string).sort();
}

describe('IngestPipeline', () => {
  it('maps topics to tables', () => {
    assert.equal(tableForTopic('reddit_DataEngineering'), 'dataengineering');
    assert.throws(() => tableForTopic('reddit_<bad>'), /does not name a valid subreddit/);
  });

  it('commits one txn per partition with the data and resumes after it', async () => {
    const root = memoryRoot();
    const p1 = pipeline(root);
    assert.equal(await p1.assign('reddit_tech', 0), null);
    assert.equal(await p1.assign('reddit_tech', 1), null);
    for (let o = 0; o < 50; o++) { p1.push(msg('reddit_tech', 0, o)); p1.push(msg('reddit_tech', 1, o)); }
    const out = await p1.flushAll();
    assert.equal(out.summaries.length, 1, 'one commit for both partitions of the table');
    assert.deepEqual(out.summaries[0].partitions.map((p) => [p.partition, p.from, p.to]), [[0, 0n, 49n], [1, 0n, 49n]]);
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

  it('a crash between the dead-letter commit and the data commit duplicates nothing', async () => {
    const root = memoryRoot();
    const p = pipeline(root);
    await p.assign('reddit_news', 0);
    p.push(msg('reddit_news', 0, 0, 'bad'));
    p.push(msg('reddit_news', 0, 1));
    // Simulate: dead letters committed, then the process died before the data commit.
    const failingAppend = (await new TableCatalog(root, { log: silentLogger }).postTable('news'));
    void failingAppend;
    const catalog = (p as any).opts.catalog as TableCatalog;
    const table = await catalog.postTable('news');
    const original = table.commitPrepared.bind(table);
    table.commitPrepared = async () => { throw new Error('killed'); };
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
    const a = pipeline(root);
    const b = pipeline(root);
    await a.assign('reddit_tech', 0);
    await b.assign('reddit_tech', 0);
    for (let o = 0; o < 10; o++) { a.push(msg('reddit_tech', 0, o)); b.push(msg('reddit_tech', 0, o)); }
    await b.flushAll();
    const out = await a.flushAll();
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
    const a = pipeline(root);
    const b = pipeline(root);
    await a.assign('reddit_tech', 0);
    await b.assign('reddit_tech', 0);
    for (let o = 0; o < 6; o++) a.push(msg('reddit_tech', 0, o, o % 2 ? 'bad' : undefined));
    // Freeze a's view of the dead-letter table, so b's commit lands in a race a loses.
    const aDlq = await ((a as any).opts.catalog as TableCatalog).deadLetterTable();
    await aDlq.refresh();
    aDlq.refresh = async () => aDlq.snapshot;
    for (let o = 0; o < 2; o++) b.push(msg('reddit_tech', 0, o, o % 2 ? 'bad' : undefined));
    await b.flushAll();
    const out = await a.flushAll();
    // the conflict is caught (data or dead-letter side): nothing committed, re-seek
    assert.equal(out.summaries.length, 0);
    assert.deepEqual(out.reseek, [{ topic: 'reddit_tech', partition: 0, offset: 2n }]);
    assert.equal((await loadSnapshot(root.store('tech'))).txnVersion('g-reddit_tech-0'), 1, 'a committed no data');
    delete (aDlq as any).refresh;
    for (let o = 2; o < 6; o++) a.push(msg('reddit_tech', 0, o, o % 2 ? 'bad' : undefined));
    await a.flushAll();
    const dead = (await readAllRows(await loadSnapshot(root.store('_dead_letters')))).map((r) => r.offset as bigint).sort((x, y) => Number(x - y));
    assert.deepEqual(dead, [1n, 3n, 5n]);
    assert.deepEqual(await ids(root, 'tech'), ['reddit_tech-0-0', 'reddit_tech-0-2', 'reddit_tech-0-4']);
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
    const p = pipeline(root);
    await p.assign('reddit_tech', 0);
    await p.assign('reddit_tech', 1);
    for (let o = 0; o < 5; o++) { p.push(msg('reddit_tech', 0, o)); p.push(msg('reddit_tech', 1, o)); }
    p.revoke('reddit_tech', 1);
    assert.equal(p.push(msg('reddit_tech', 1, 5)), false);
    const out = await p.flushAll();
    assert.deepEqual(out.summaries[0].partitions.map((x) => x.partition), [0]);
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
    assert.deepEqual(out.summaries.map((s) => s.table), ['aa']);
    assert.equal(p.buffered(), 1);
  });
});
