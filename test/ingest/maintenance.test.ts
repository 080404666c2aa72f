/**
 * Automatic compaction in the ingest: a pipeline committing one small batch
 * at a time gets its table compacted in the background once a partition
 * holds `minFiles` small files; rows, the partitions' txn positions and the
 * resume point stay exact, also with commits racing the compaction.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { Maintenance } from '../../src/ingest/maintenance.ts';
import { IngestPipeline, type SourceMessage } from '../../src/ingest/pipeline.ts';
import { TableCatalog } from '../../src/ingest/tables.ts';
import { silentLogger } from '../../src/logger.ts';
import { memoryRoot } from '../helpers/memory-root.ts';

const enc = new TextEncoder();
const TOPIC = 'reddit_tech';
const msg = (partition: number, offset: number): SourceMessage => ({
  topic: TOPIC,
  partition,
  offset: BigInt(offset),
  key: null,
  value: enc.encode(
    JSON.stringify({ id: `p${partition}-${offset}`, subreddit: 'tech', title: 't', created_utc: 1_700_000_000 }),
  ),
});

function pipeline(root: ReturnType<typeof memoryRoot>, maintenance?: Maintenance) {
  return new IngestPipeline({
    group: 'g',
    policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
    catalog: new TableCatalog(root, { log: silentLogger }),
    log: silentLogger,
    maintenance,
  });
}

describe('automatic compaction', () => {
  it('compacts in the background once enough small files exist; rows and positions exact', async () => {
    const root = memoryRoot();
    const maintenance = new Maintenance({ log: silentLogger, minFiles: 8 });
    const p = pipeline(root, maintenance);
    await p.assign(TOPIC, 0);
    await p.assign(TOPIC, 1);
    // One commit per message, both partitions: the compaction runs while commits go on.
    for (let o = 0; o < 30; o++) {
      assert.ok(p.push(msg(o % 2, o)));
      const out = await p.flushAll('latency');
      assert.equal(out.summaries.length, 1);
    }
    await maintenance.idle();
    assert.ok(maintenance.compactions >= 1, 'at least one compaction ran');
    const snap = await loadSnapshot(root.store('tech'));
    assert.ok(snap.files().length < 30, `fewer files than commits (${snap.files().length})`);
    const ids = (await readAllRows(snap)).map((r) => String(r.id)).sort();
    assert.deepEqual(ids, Array.from({ length: 30 }, (_, o) => `p${o % 2}-${o}`).sort());
    assert.equal(snap.txnVersion(`g-${TOPIC}-0`), 28);
    assert.equal(snap.txnVersion(`g-${TOPIC}-1`), 29);
    // A new owner resumes exactly after the last committed offsets.
    const next = pipeline(root);
    assert.equal(await next.assign(TOPIC, 0), 29n);
    assert.equal(await next.assign(TOPIC, 1), 30n);
  });

  it('can be turned off', async () => {
    const root = memoryRoot();
    const maintenance = new Maintenance({ log: silentLogger, minFiles: 2, compact: false });
    const p = pipeline(root, maintenance);
    await p.assign(TOPIC, 0);
    for (let o = 0; o < 5; o++) {
      p.push(msg(0, o));
      await p.flushAll('latency');
    }
    await maintenance.idle();
    assert.equal(maintenance.compactions, 0);
    assert.equal((await loadSnapshot(root.store('tech'))).files().length, 5);
  });

  it('vacuums at the first commit and then daily, and cleans the log at most hourly, one task at a time', async () => {
    const root = memoryRoot();
    let now = 0;
    const maintenance = new Maintenance({ log: silentLogger, compact: false, clock: () => now });
    const p = pipeline(root, maintenance);
    await p.assign(TOPIC, 0);
    const commitAt = async (t: number, offset: number) => {
      now = t;
      p.push(msg(0, offset));
      await p.flushAll('latency');
      await maintenance.idle();
    };
    await commitAt(0, 0);
    assert.deepEqual([maintenance.vacuums, maintenance.logCleanups], [1, 0], 'vacuum first');
    await commitAt(60_000, 1);
    assert.deepEqual([maintenance.vacuums, maintenance.logCleanups], [1, 1], 'then the log');
    await commitAt(30 * 60_000, 2);
    assert.deepEqual([maintenance.vacuums, maintenance.logCleanups], [1, 1], 'nothing due within the hour');
    await commitAt(2 * 3_600_000, 3);
    assert.deepEqual([maintenance.vacuums, maintenance.logCleanups], [1, 2]);
    await commitAt(25 * 3_600_000, 4);
    assert.deepEqual([maintenance.vacuums, maintenance.logCleanups], [2, 2], 'a day later: vacuum again');
    const ids = (await readAllRows(await loadSnapshot(root.store('tech')))).map((r) => String(r.id)).sort();
    assert.deepEqual(ids, ['p0-0', 'p0-1', 'p0-2', 'p0-3', 'p0-4'], 'vacuum never takes a live file');
  });
});
