/**
 * The outage spool without servers: batches spooled while the store fails,
 * consumption continuing, ordered replay, and exactly-once across a crash
 * during replay and against another worker overtaking spooled batches.
 */
import type { PreparedAppend } from '../../src/delta/table.ts';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { ReddStreamError } from '../../src/errors.ts';
import { IngestPipeline, type SourceMessage } from '../../src/ingest/pipeline.ts';
import { Spool } from '../../src/ingest/spool.ts';
import { TableCatalog } from '../../src/ingest/tables.ts';
import { silentLogger } from '../../src/logger.ts';
import { FlakyStore, memoryRoot } from '../helpers/memory-root.ts';

const enc = new TextEncoder();
const msg = (offset: number, value?: string): SourceMessage => ({
  topic: 'reddit_tech',
  partition: 0,
  offset: BigInt(offset),
  key: null,
  value: enc.encode(
    value ??
      JSON.stringify({
        id: `p${offset}`,
        subreddit: 'tech',
        title: `t${offset}`,
        score: offset,
        created_utc: 1_700_000_000 + offset,
      }),
  ),
});

// Failing like a real store: coded STORAGE errors.
class OutageStore extends FlakyStore {
  override async put(p: string, d: Uint8Array) {
    if (this.failing) throw new ReddStreamError('STORAGE_UNAVAILABLE', 'cannot reach the store');
    return super.put(p, d);
  }
  override async putIfAbsent(p: string, d: Uint8Array) {
    if (this.failing) throw new ReddStreamError('STORAGE_UNAVAILABLE', 'cannot reach the store');
    return super.putIfAbsent(p, d);
  }
  override async get(p: string) {
    if (this.failing) throw new ReddStreamError('STORAGE_UNAVAILABLE', 'cannot reach the store');
    return super.get(p);
  }
}

function outageRoot() {
  const root = memoryRoot();
  const stores = new Map<string, OutageStore>();
  return {
    ...root,
    stores,
    store(name: string) {
      let s = stores.get(name);
      if (!s) stores.set(name, (s = new OutageStore(name)));
      return s;
    },
    setFailing(v: boolean) {
      for (const s of stores.values()) s.failing = v;
    },
  };
}

async function setup(root: ReturnType<typeof outageRoot>, spoolDir: string) {
  const spool = new Spool(spoolDir);
  await spool.init();
  const pipeline = new IngestPipeline({
    group: 'g',
    policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
    catalog: new TableCatalog(root, { log: silentLogger }),
    log: silentLogger,
    spool,
  });
  return { spool, pipeline };
}

const ids = async (root: ReturnType<typeof outageRoot>) =>
  (await readAllRows(await loadSnapshot(root.store('tech')))).map((r) => r.id as string).sort();

describe('outage spool', () => {
  it('keeps batches while the store fails, keeps consuming, then replays them in order exactly once', async () => {
    const root = outageRoot();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-'));
    const { spool, pipeline } = await setup(root, dir);
    await pipeline.assign('reddit_tech', 0);
    for (let o = 0; o < 10; o++) pipeline.push(msg(o));
    await pipeline.flushAll();
    root.setFailing(true);
    for (let o = 10; o < 20; o++) pipeline.push(msg(o));
    pipeline.push(msg(20, '{broken'));
    const a = await pipeline.flushAll();
    assert.equal(a.error, undefined, String(a.error));
    assert.equal(
      a.summaries.length,
      1,
      JSON.stringify(a.reseek, (k, v) => (typeof v === 'bigint' ? String(v) : v)),
    );
    assert.equal(a.summaries[0].spooled, true);
    for (let o = 21; o < 30; o++) pipeline.push(msg(o));
    const b = await pipeline.flushAll();
    assert.equal(b.summaries[0].spooled, true);
    assert.equal(spool.size, 2);
    assert.equal(fs.readdirSync(dir).filter((n) => n !== 'LOCK' && n !== 'OWNER').length, 2);
    // still down: replay fails and keeps everything
    const r1 = await pipeline.replaySpool();
    assert.ok(r1.error);
    assert.equal(r1.remaining, 2);
    root.setFailing(false);
    // new batches while the spool is not empty queue behind it (ordering)
    for (let o = 30; o < 35; o++) pipeline.push(msg(o));
    const c = await pipeline.flushAll();
    assert.equal(c.summaries[0].spooled, true);
    const r2 = await pipeline.replaySpool();
    assert.deepEqual([r2.replayed, r2.remaining, r2.error], [3, 0, undefined]);
    assert.equal(fs.readdirSync(dir).filter((n) => n !== 'LOCK' && n !== 'OWNER').length, 0);
    const got = await ids(root);
    assert.equal(got.length, 34);
    assert.equal(new Set(got).size, 34);
    const snap = await loadSnapshot(root.store('tech'));
    assert.equal(snap.txnVersion('g-reddit_tech-0'), 34);
    const dead = await readAllRows(await loadSnapshot(root.store('_dead_letters')));
    assert.deepEqual(
      dead.map((d) => d.offset),
      [20n],
    );
    // back to direct commits
    for (let o = 35; o < 40; o++) pipeline.push(msg(o));
    const d = await pipeline.flushAll();
    assert.equal(d.summaries[0].spooled, false);
    assert.equal((await ids(root)).length, 39);
  });

  it('dead letters of a batch queued behind spooled batches are spooled too, and replay exactly once', async () => {
    const root = outageRoot();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-'));
    const { spool, pipeline } = await setup(root, dir);
    await pipeline.assign('reddit_tech', 0);
    for (let o = 0; o < 5; o++) pipeline.push(msg(o, o === 1 ? 'bad' : undefined));
    assert.equal((await pipeline.flushAll()).summaries[0].deadLetters, 1);
    root.setFailing(true);
    for (let o = 5; o < 10; o++) pipeline.push(msg(o));
    assert.equal((await pipeline.flushAll()).summaries[0].spooled, true);
    // Queued behind the spooled batch: its dead letter's txn must expect the dead-letter table's own position (1), not the data's (9).
    for (let o = 10; o < 15; o++) pipeline.push(msg(o, o === 11 ? 'bad' : undefined));
    const out = await pipeline.flushAll();
    assert.equal(out.error, undefined, out.error?.message);
    assert.equal(out.summaries[0].spooled, true);
    assert.equal(spool.size, 2);
    root.setFailing(false);
    const r = await pipeline.replaySpool();
    assert.equal(r.remaining, 0);
    assert.deepEqual(
      await ids(root),
      ['p0', ...Array.from({ length: 13 }, (_, i) => `p${i + 2}`).filter((x) => x !== 'p11')].sort(),
    );
    const dead = (await readAllRows(await loadSnapshot(root.store('_dead_letters'))))
      .map((x) => x.offset as bigint)
      .sort((a, b) => Number(a - b));
    assert.deepEqual(dead, [1n, 11n]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a crash while deleting a finished entry leaves nothing half-done; unreadable entries are set aside, never fatal', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-'));
    const spool = new Spool(dir);
    await spool.init();
    const prepared: PreparedAppend = {
      kind: 'prepared',
      files: [
        {
          path: 'part-0.parquet',
          bytes: new Uint8Array([1, 2, 3]),
          add: { path: 'part-0.parquet', partitionValues: {}, size: 3, modificationTime: 0, dataChange: true },
        },
      ],
      actions: [],
      txns: [{ appId: 'g-t-0', version: 5, expect: null }],
      rows: 1,
      commitInfo: {},
    };
    const a = await spool.add(['reddit_t'], [{ table: 't', prepared }]);
    const b = await spool.add(['reddit_t'], [{ table: 't', prepared }]);
    await spool.complete(a);
    const listing = () =>
      fs
        .readdirSync(dir)
        .filter((n) => n !== 'LOCK' && n !== 'OWNER')
        .sort();
    assert.deepEqual(listing(), [String(b).padStart(12, '0')], 'a finished entry leaves nothing behind');
    // What a kill -9 in the middle of deleting finished entry `a` leaves: a renamed, partly deleted directory.
    fs.mkdirSync(path.join(dir, `${String(a).padStart(12, '0')}.done`));
    fs.writeFileSync(path.join(dir, `${String(a).padStart(12, '0')}.done`, 'f0.parquet'), 'x');
    // And a damaged entry (no entry.json), e.g. written by an older version.
    fs.mkdirSync(path.join(dir, '000000000099'));
    await spool.close(); // the process that wrote it is gone
    const again = new Spool(dir);
    await again.init();
    assert.deepEqual(
      again.list().map((e) => e.seq),
      [b],
      'only the complete entry is replayed',
    );
    assert.deepEqual(
      again.broken.map((x) => x.name),
      ['000000000099'],
    );
    assert.deepEqual(listing(), [String(b).padStart(12, '0'), '000000000099.broken']);
    assert.equal((await again.oldest())!.parts[0].prepared.files[0].bytes.length, 3);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("one process owns a spool: another is refused while it runs, a listing changes nothing, a dead owner's lock is taken over", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-lock-'));
    const { spawn } = await import('node:child_process');
    // Another process (a running consume) owns the spool.
    const owner = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      const { Spool } = await import(${JSON.stringify(new URL('../../src/ingest/spool.ts', import.meta.url).href)});
      await new Spool(${JSON.stringify(dir)}).init();
      process.stdout.write('owned\\n');
      setInterval(() => {}, 1000);
    `,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => owner.stdout!.once('data', () => resolve()));
      fs.mkdirSync(path.join(dir, '000000000007.tmp')); // an entry the owner is writing right now
      await assert.rejects(new Spool(dir).init(), new RegExp(`in use by process ${owner.pid}`));
      const reader = new Spool(dir);
      await reader.init({ readOnly: true });
      assert.ok(fs.existsSync(path.join(dir, '000000000007.tmp')), 'a listing removes nothing');
      // A second consumer started in the same directory gets a spool of its own.
      const second = await Spool.claim(dir);
      assert.equal(second.dir, `${dir}-2`);
      await second.close();
      fs.rmSync(`${dir}-2`, { recursive: true, force: true });
    } finally {
      owner.kill('SIGKILL');
      await new Promise((r) => owner.once('exit', r));
    }
    const next = new Spool(dir);
    await next.init();
    assert.match(
      fs.readFileSync(path.join(dir, 'OWNER'), 'utf8'),
      new RegExp(`^${process.pid} `),
      "the dead owner's lock was taken over",
    );
    // Within one process a spool is owned once, also when claimed twice at the same moment.
    const twice = await Promise.allSettled([new Spool(dir).init(), new Spool(dir).init()]);
    assert.deepEqual(
      twice.map((r) => r.status),
      ['rejected', 'rejected'],
      'already owned by `next`',
    );
    await next.close();
    assert.equal(fs.existsSync(path.join(dir, 'OWNER')), false, 'no owner named after close');
    const pair = await Promise.allSettled([new Spool(dir).init(), new Spool(dir).init()]);
    assert.deepEqual(pair.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an owner works on the real directory (a symlink retargeted later does not move it); an entry that is not one is set aside', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-link-'));
    fs.mkdirSync(path.join(base, 'r1'));
    fs.mkdirSync(path.join(base, 'r2'));
    fs.mkdirSync(path.join(base, 'r1', '000000000003'));
    fs.writeFileSync(path.join(base, 'r1', '000000000003', 'entry.json'), '{}');
    fs.symlinkSync(path.join(base, 'r1'), path.join(base, 'current'));
    const a = new Spool(path.join(base, 'current'));
    await a.init();
    assert.equal(a.dir, fs.realpathSync(path.join(base, 'r1')));
    assert.deepEqual(
      a.broken.map((b) => b.name),
      ['000000000003'],
      'set aside, not a crash',
    );
    fs.unlinkSync(path.join(base, 'current'));
    fs.symlinkSync(path.join(base, 'r2'), path.join(base, 'current'));
    const prepared: PreparedAppend = {
      kind: 'prepared',
      files: [],
      actions: [],
      txns: [{ appId: 'g-t-0', version: 1, expect: null }],
      rows: 0,
      commitInfo: {},
    };
    const seq = await a.add(['reddit_t'], [{ table: 't', prepared }]);
    assert.ok(fs.existsSync(path.join(base, 'r1', String(seq).padStart(12, '0'))), 'written where it was locked');
    assert.deepEqual(fs.readdirSync(path.join(base, 'r2')), []);
    await a.close();
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('processes starting together over a stale lock each get a spool of their own', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-race-'));
    const { spawn } = await import('node:child_process');
    // A lock left by a process that is gone.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.once('exit', r));
    fs.writeFileSync(path.join(dir, 'LOCK'), String(dead.pid));
    const spoolModule = JSON.stringify(new URL('../../src/ingest/spool.ts', import.meta.url).href);
    // Each child loads the code, says so, and claims when told: all at once.
    const kids = Array.from({ length: 4 }, () =>
      spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `
      const { Spool } = await import(${spoolModule});
      process.stdout.write('ready\\n');
      process.stdin.once('data', async () => {
        const s = await Spool.claim(${JSON.stringify(dir)});
        process.stdout.write(s.dir + '\\n');
      });
      process.stdin.on('end', () => process.exit(0));
    `,
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      ),
    );
    const lines = kids.map((k) => {
      const got: string[] = [];
      let waiting: Array<() => void> = [];
      k.stdout!.on('data', (d: Buffer) => {
        got.push(...d.toString().split('\n').filter(Boolean));
        waiting.forEach((w) => w());
        waiting = [];
      });
      return async (n: number) => {
        while (got.length < n) await new Promise<void>((r) => waiting.push(r));
        return got[n - 1];
      };
    });
    try {
      await Promise.all(lines.map((l) => l(1)));
      for (const k of kids) k.stdin!.write('go\n');
      const claimed = await Promise.all(lines.map((l) => l(2)));
      assert.equal(new Set(claimed).size, 4, `distinct spools: ${claimed.join(', ')}`);
      assert.ok(claimed.includes(dir), 'one of them took over the stale lock');
    } finally {
      for (const k of kids) k.stdin!.end();
      await Promise.all(kids.map((k) => new Promise((r) => (k.exitCode === null ? k.once('exit', r) : r(null)))));
    }
    for (const d of [dir, `${dir}-2`, `${dir}-3`, `${dir}-4`]) fs.rmSync(d, { recursive: true, force: true });
  });

  it('a crash during replay (commit landed, spool entry not yet removed) ends exactly once', async () => {
    const root = outageRoot();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-'));
    const first = await setup(root, dir);
    await first.pipeline.assign('reddit_tech', 0);
    root.setFailing(true);
    for (let o = 0; o < 10; o++) first.pipeline.push(msg(o));
    await first.pipeline.flushAll();
    root.setFailing(false);
    // Simulate the crash: commit the entry but keep it in the spool.
    const complete = first.spool.complete.bind(first.spool);
    first.spool.complete = async () => {
      throw new Error('killed');
    };
    await assert.rejects(first.pipeline.replaySpool(), /killed/);
    first.spool.complete = complete;
    assert.equal((await ids(root)).length, 10);
    // Restart: a new process finds the entry, sees it already committed, removes it.
    await first.spool.close(); // the crashed process is gone
    const second = await setup(root, dir);
    assert.equal(second.spool.size, 1);
    assert.equal(await second.pipeline.assign('reddit_tech', 0), 10n, 'resumes after spooled offsets');
    const r = await second.pipeline.replaySpool();
    assert.deepEqual([r.replayed, r.remaining], [1, 0]);
    assert.equal((await ids(root)).length, 10);
  });

  it('a restart with batches still spooled resumes after them, and another worker overtaking drops them', async () => {
    const root = outageRoot();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-'));
    const a = await setup(root, dir);
    await a.pipeline.assign('reddit_tech', 0);
    root.setFailing(true);
    for (let o = 0; o < 10; o++) a.pipeline.push(msg(o));
    await a.pipeline.flushAll();
    root.setFailing(false);
    // Another worker (no spool) owns the partition now and commits 0..14 from Kafka.
    const b = new IngestPipeline({
      group: 'g',
      policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
      catalog: new TableCatalog(root, { log: silentLogger }),
      log: silentLogger,
    });
    await b.assign('reddit_tech', 0);
    for (let o = 0; o < 15; o++) b.push(msg(o));
    await b.flushAll();
    const r = await a.pipeline.replaySpool();
    assert.deepEqual([r.replayed, r.remaining], [1, 0]);
    const got = await ids(root);
    assert.equal(got.length, 15);
    assert.equal(new Set(got).size, 15);
  });
});
