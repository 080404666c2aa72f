/**
 * Expired log cleanup and VACUUM on real local tables, with file times
 * moved into the past: what is deleted, what stays readable (latest version,
 * time travel inside the retention), what is refused and how.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanUpExpiredLogs, planLogCleanup } from '../../src/delta/log-cleanup.ts';
import { optimizeTable } from '../../src/delta/optimize.ts';
import { readAllRows } from '../../src/delta/scan.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { vacuum } from '../../src/delta/vacuum.ts';
import { ReddStreamError } from '../../src/errors.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';

const DAY = 86_400_000;
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const schema = struct([field('id', 'long', false)]);

async function table(commits: number, configuration: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-vac-'));
  dirs.push(dir);
  const store = new LocalObjectStore(dir);
  const t = await DeltaTable.create(store, { schema, configuration });
  for (let i = 0; i < commits; i++) await t.appendRows([{ id: BigInt(i) }]);
  return { dir, store, t };
}

/** Move a file's modification time `days` into the past. */
const age = (file: string, days: number) => {
  const t = new Date(Date.now() - days * DAY);
  fs.utimesSync(file, t, t);
};

const ids = async (store: LocalObjectStore, version?: number) =>
  (await readAllRows(await loadSnapshot(store, { version }))).map((r) => Number(r.id)).sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const meta = (p: string, daysOld: number) => ({ path: p, size: 1, lastModified: new Date(Date.now() - daysOld * DAY) });
const pad = (v: number) => String(v).padStart(20, '0');

describe('planLogCleanup (pure)', () => {
  const cutoff = Date.now() - 30 * DAY;
  it('deletes versions before the newest checkpoint older than the cutoff, and only old files', () => {
    const log = [
      ...Array.from({ length: 25 }, (_, v) => meta(`_delta_log/${pad(v)}.json`, v < 22 ? 40 : 1)),
      meta(`_delta_log/${pad(10)}.checkpoint.parquet`, 40),
      meta(`_delta_log/${pad(20)}.checkpoint.parquet`, 40),
      meta('_delta_log/_last_checkpoint', 1),
    ];
    const plan = planLogCleanup(log, cutoff);
    assert.equal(plan.checkpointVersion, 20);
    const gone = plan.delete.map((o) => o.path);
    assert.equal(gone.length, 21, 'commits 0-19 and checkpoint 10');
    assert.ok(gone.includes(`_delta_log/${pad(10)}.checkpoint.parquet`));
    assert.ok(!gone.some((p) => p.includes(pad(20))), 'the checkpoint kept versions rebuild from stays');
  });

  it('deletes nothing without a checkpoint old enough, and ignores an incomplete multi-part one', () => {
    const log = [
      ...Array.from({ length: 12 }, (_, v) => meta(`_delta_log/${pad(v)}.json`, 40)),
      meta(`_delta_log/${pad(10)}.checkpoint.0000000001.0000000002.parquet`, 40),
      meta(`_delta_log/${pad(5)}.checkpoint.parquet`, 1),
    ];
    assert.deepEqual(planLogCleanup(log, cutoff), { checkpointVersion: null, delete: [] });
  });
});

describe('cleanUpExpiredLogs', () => {
  it('deletes expired commits and checkpoints; the latest version and those after the checkpoint stay readable', async () => {
    const { dir, store } = await table(25);
    const log = path.join(dir, '_delta_log');
    for (const f of fs.readdirSync(log)) {
      if (!f.includes(pad(24)) && f !== '_last_checkpoint') age(path.join(log, f), 40);
    }
    const snap = await loadSnapshot(store);
    const r = await cleanUpExpiredLogs(store, snap.metadata.configuration);
    assert.equal(r.checkpointVersion, 20);
    assert.equal(r.deleted, 21);
    assert.deepEqual(await ids(store), range(25));
    assert.deepEqual(await ids(store, 20), range(20));
    await assert.rejects(
      () => loadSnapshot(store, { version: 5 }),
      (e: unknown) => e instanceof ReddStreamError && e.code === 'VERSION_NOT_FOUND',
    );
  });

  it('a writer whose snapshot predates the cleaned-up commits commits after the latest version, not below it', async () => {
    const { store, t: idle } = await table(1, { 'delta.logRetentionDuration': 'interval 1 seconds' });
    const other = await DeltaTable.open(store);
    for (let i = 1; i < 25; i++) await other.appendRows([{ id: BigInt(i) }]);
    // Versions 2-25 were written after `idle` last read the log; once they are older than the
    // retention, cleanup deletes versions 0-19 (checkpoint 20 rebuilds the rest).
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await cleanUpExpiredLogs(store, other.snapshot.metadata.configuration)).checkpointVersion, 20);
    await idle.refresh();
    assert.equal(idle.version, 25, 'refresh finds the latest version');
    const res = await idle.appendRows([{ id: 99n }]);
    assert.equal(res.kind === 'committed' && res.version, 26);
    assert.deepEqual(await ids(store), [...range(25), 99]);
  });

  it('honours delta.enableExpiredLogCleanup = false', async () => {
    const { dir, store } = await table(12, { 'delta.enableExpiredLogCleanup': 'false' });
    for (const f of fs.readdirSync(path.join(dir, '_delta_log'))) age(path.join(dir, '_delta_log', f), 40);
    const r = await cleanUpExpiredLogs(store, (await loadSnapshot(store)).metadata.configuration);
    assert.equal(r.deleted, 0);
    assert.deepEqual(await ids(store, 1), [0]);
  });
});

describe('vacuum', () => {
  it('deletes files removed longer ago than the retention, never live ones; dry run and short retention', async () => {
    const { store, t } = await table(10);
    const beforeOptimize = t.version;
    assert.equal((await optimizeTable(t)).kind, 'optimized');
    const snap = await loadSnapshot(store);
    const fresh = await vacuum(snap, store);
    assert.deepEqual(fresh.files, [], 'tombstones younger than 7 days stay');
    await assert.rejects(
      () => vacuum(snap, store, { retainHours: 1 }),
      (e: unknown) => e instanceof ReddStreamError && e.code === 'USAGE' && /shorter than the table/.test(e.message),
    );
    const later = Date.now() + 8 * DAY;
    const dry = await vacuum(snap, store, { now: later, dryRun: true });
    assert.equal(dry.files.length, 10);
    assert.deepEqual(await ids(store, beforeOptimize), range(10), 'a dry run deletes nothing');
    const done = await vacuum(snap, store, { now: later });
    assert.equal(done.files.length, 10);
    assert.deepEqual(await ids(store), range(10), 'the latest version reads');
    await assert.rejects(() => ids(store, beforeOptimize), /MISSING_DATA_FILE|not found/i);
  });

  it('full mode also deletes old files no version references, and keeps young ones (writes in flight)', async () => {
    const { dir, store } = await table(3);
    fs.writeFileSync(path.join(dir, 'part-old-orphan.parquet'), 'x');
    age(path.join(dir, 'part-old-orphan.parquet'), 10);
    fs.writeFileSync(path.join(dir, 'part-young-orphan.parquet'), 'x');
    fs.mkdirSync(path.join(dir, '_hidden'));
    fs.writeFileSync(path.join(dir, '_hidden', 'keep'), 'x');
    age(path.join(dir, '_hidden', 'keep'), 10);
    const snap = await loadSnapshot(store);
    assert.deepEqual((await vacuum(snap, store)).files, [], 'default mode does not list');
    const r = await vacuum(snap, store, { full: true });
    assert.deepEqual(r.files, ['part-old-orphan.parquet']);
    assert.ok(fs.existsSync(path.join(dir, 'part-young-orphan.parquet')));
    assert.ok(fs.existsSync(path.join(dir, '_hidden', 'keep')));
    assert.deepEqual(await ids(store), range(3));
  });
});
