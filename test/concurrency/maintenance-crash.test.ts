/**
 * kill -9 during maintenance, then the usual life of the table: its rows are
 * exact (none lost, none doubled), delta-rs reads it, and the next run of the
 * same maintenance completes and leaves a consistent table.
 * - A compaction killed between its uploads and its commit leaves only files
 *   no version references; a full vacuum removes them.
 * - An expired log cleanup killed between its deletions (oldest first) leaves
 *   a log that rebuilds exactly the versions from its oldest checkpoint on,
 *   for our reader and for delta-rs alike.
 * - A full vacuum killed between its deletions deleted only files the latest
 *   version and the versions inside the retention do not read.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanUpExpiredLogs } from '../../src/delta/log-cleanup.ts';
import { parseLogPath } from '../../src/delta/log-path.ts';
import { optimizeTable } from '../../src/delta/optimize.ts';
import { readAllRows } from '../../src/delta/scan.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { vacuum } from '../../src/delta/vacuum.ts';
import { ReddStreamError } from '../../src/errors.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-crash-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const DAY = 86_400_000;
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const schema = struct([field('id', 'long', false), field('text', 'string')]);

/** A table of `n` one-row appends: id i in version i + 1, with txn 'app' = i. */
async function appendedTable(n: number, configuration: Record<string, string> = {}, textRepeat = 1) {
  const dir = fs.mkdtempSync(path.join(root, 't-'));
  const store = new LocalObjectStore(dir);
  const table = await DeltaTable.create(store, { schema, configuration });
  await appendIds(table, range(n), textRepeat);
  return { dir, store, table };
}

async function appendIds(table: DeltaTable, ids: number[], textRepeat = 1) {
  for (const i of ids) {
    await table.appendRows([{ id: BigInt(i), text: `${i}`.repeat(textRepeat) }], {
      txns: [{ appId: 'app', version: i }],
    });
  }
}

const ids = async (store: LocalObjectStore, version?: number) =>
  (await readAllRows(await loadSnapshot(store, { version }))).map((r) => Number(r.id)).sort((a, b) => a - b);

/** Files of `version` for our reader, or null when it refuses the version as cleaned up (VERSION_NOT_FOUND). */
async function ourFiles(store: LocalObjectStore, version: number): Promise<number | null> {
  try {
    return (await loadSnapshot(store, { version })).files().length;
  } catch (err) {
    if (err instanceof ReddStreamError && err.code === 'VERSION_NOT_FOUND') return null;
    throw err;
  }
}

/**
 * What delta-rs makes of the table: for each of `versions`, its number of
 * files, or null when delta-rs cannot load that version; the sorted ids of
 * each of `read`.
 */
function deltaRs(dir: string, versions: number[], read: number[]) {
  return runPython(
    `${PY_PRELUDE}
from deltalake import DeltaTable
uri, versions, read = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
files, ids = {}, {}
for v in versions:
    try:
        t = DeltaTable(uri, version=v)
    except Exception:
        files[v] = None
        continue
    files[v] = len(t.file_uris())
    if v in read:
        ids[v] = sorted(t.to_pyarrow_table(columns=['id']).column('id').to_pylist())
emit({'files': files, 'ids': ids})
`,
    [dir, JSON.stringify(versions), JSON.stringify(read)],
  ) as { files: Record<string, number | null>; ids: Record<string, number[]> };
}

/** Start a worker script of this directory; kill -9 it once its stdout matches `when`. Its stdout until then. */
async function killWhen(script: string, args: string[], when: RegExp): Promise<string> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((r) => child.on('exit', r));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (when.test(out)) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`worker ended before the kill:\n${out}\n${err}`)));
  });
  await exited;
  assert.doesNotMatch(out, /done/, 'killed before it finished');
  return out;
}

const deletedPaths = (out: string) => [...out.matchAll(/^deleted \d+ (\S+)$/gm)].map((m) => m[1]);

/** Move the modification time of the log files of versions matching `old` `days` into the past. */
function ageLog(dir: string, old: (version: number) => boolean, days: number) {
  const t = new Date(Date.now() - days * DAY);
  for (const name of fs.readdirSync(path.join(dir, '_delta_log'))) {
    const f = parseLogPath(`_delta_log/${name}`, 0);
    if (f.kind !== 'other' && old(f.version)) fs.utimesSync(path.join(dir, '_delta_log', name), t, t);
  }
}

/** Versions of the log files present: commits and checkpoints. */
function logVersions(dir: string) {
  const commits: number[] = [];
  const checkpoints: number[] = [];
  for (const name of fs.readdirSync(path.join(dir, '_delta_log'))) {
    const f = parseLogPath(`_delta_log/${name}`, 0);
    if (f.kind === 'commit') commits.push(f.version);
    if (f.kind === 'checkpoint') checkpoints.push(f.version);
  }
  return { commits: commits.sort((a, b) => a - b), checkpoints: checkpoints.sort((a, b) => a - b) };
}

/**
 * Both readers load exactly the versions from the oldest checkpoint on (the
 * older ones are refused, never read wrongly), each with one file per row.
 */
async function assertLoadableFrom(dir: string, store: LocalObjectStore, latest: number, read: number[]) {
  const oldest = Math.min(...logVersions(dir).checkpoints);
  const versions = range(latest + 1);
  const expected = versions.map((v) => (v >= oldest ? v : null));
  assert.deepEqual(await Promise.all(versions.map((v) => ourFiles(store, v))), expected, 'our reader');
  const py = deltaRs(dir, versions, read);
  assert.deepEqual(
    versions.map((v) => py.files[v]),
    expected,
    'delta-rs',
  );
  for (const v of read) assert.deepEqual(py.ids[v], range(v), `delta-rs reads version ${v}`);
  return oldest;
}

describe('kill -9 during maintenance', () => {
  it('a compaction killed between its uploads and its commit leaves only unreferenced files', async () => {
    // Files of ~5 KiB, bins of 16 KiB: the compaction uploads several files before its commit.
    const { dir, store } = await appendedTable(40, {}, 4000);
    const dataFiles = () => fs.readdirSync(dir).filter((f) => f.endsWith('.parquet'));
    const before = dataFiles().length;
    await killWhen('optimize-worker.ts', [dir, '300'], /uploaded 3\n/);
    assert.equal(dataFiles().length, before + 3, 'three uploaded files, referenced by no version');
    assert.deepEqual(await ids(store), range(40), 'rows exact after the kill');
    assert.equal((await loadSnapshot(store)).txnVersion('app'), 39);
    assert.deepEqual(deltaRs(dir, [40], [40]).ids[40], range(40), 'delta-rs reads the same rows');
    // Life goes on: a compaction now succeeds, then a full vacuum takes the orphans (and the replaced files).
    assert.equal((await optimizeTable(await DeltaTable.open(store))).kind, 'optimized');
    const snap = await loadSnapshot(store);
    const r = await vacuum(snap, store, { full: true, retainHours: 0, force: true, now: Date.now() + 1000 });
    assert.equal(r.files.length, before + 3, 'the 40 replaced files and the 3 orphans');
    assert.deepEqual(
      dataFiles().sort(),
      snap
        .files()
        .map((f) => decodeURIComponent(f.path))
        .sort(),
    );
    assert.deepEqual(await ids(store), range(40));
  });

  it('a log cleanup killed between its deletions leaves a log both readers rebuild from its oldest checkpoint', async () => {
    const { dir, store } = await appendedTable(100, {
      'delta.checkpointInterval': '10',
      'delta.logRetentionDuration': 'interval 1 days',
    });
    // Versions 0-59 were written two days ago: checkpoint 50 is the newest one older than the retention,
    // so commits 0-49 and checkpoints 10-40 expire (54 files).
    ageLog(dir, (v) => v < 60, 2);
    const gone = deletedPaths(await killWhen('cleanup-worker.ts', ['log', dir, '100'], /^deleted 20 /m));
    assert.ok(gone.length >= 20 && gone.length < 54, `killed in the middle: ${gone.length} deleted`);
    const versionOf = (p: string) => Number(/(\d{20})/.exec(p)![1]);
    assert.deepEqual(
      gone.map(versionOf),
      [...gone.map(versionOf)].sort((a, b) => a - b),
      'oldest first',
    );
    assert.deepEqual(await ids(store), range(100), 'rows exact after the kill');
    assert.equal((await loadSnapshot(store)).txnVersion('app'), 99);
    const oldest = await assertLoadableFrom(dir, store, 100, [70, 100]);
    assert.ok(oldest > 10 && oldest <= 50, `the cleanup got past checkpoint 10 (oldest now ${oldest})`);
    // The next cleanup completes the same plan; versions 50-100 stay readable.
    const r = await cleanUpExpiredLogs(store, (await loadSnapshot(store)).metadata.configuration);
    assert.deepEqual({ deleted: r.deleted + gone.length, from: r.checkpointVersion }, { deleted: 54, from: 50 });
    assert.deepEqual(logVersions(dir), { commits: range(51, 50), checkpoints: range(6).map((i) => 50 + 10 * i) });
    assert.equal(await assertLoadableFrom(dir, store, 100, [50, 70, 100]), 50);
    assert.deepEqual(await ids(store, 50), range(50));
  });

  it('a full vacuum killed between its deletions keeps every file the versions inside the retention read', async () => {
    const { dir, store, table } = await appendedTable(40);
    assert.equal((await optimizeTable(table)).kind, 'optimized'); // version 41: 40 files -> 1
    const cutoff = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    // Written after the cutoff: 20 appends (versions 42-61) and a compaction of everything (62).
    const t2 = await DeltaTable.open(store);
    await appendIds(t2, range(20, 40));
    assert.equal((await optimizeTable(t2)).kind, 'optimized');
    // Files a crashed writer left, written before the cutoff.
    const sample = fs.readdirSync(dir).find((f) => f.endsWith('.parquet'))!;
    for (let i = 0; i < 5; i++) {
      const orphan = path.join(dir, `part-00000-orphan-${i}.c000.snappy.parquet`);
      fs.copyFileSync(path.join(dir, sample), orphan);
      fs.utimesSync(orphan, new Date(cutoff - DAY), new Date(cutoff - DAY));
    }
    const dataFiles = () => new Set(fs.readdirSync(dir).filter((f) => f.endsWith('.parquet')));
    const before = dataFiles();
    const gone = deletedPaths(
      await killWhen('cleanup-worker.ts', ['vacuum', dir, '100', `${cutoff}`], /^deleted 15 /m),
    );
    assert.ok(gone.length >= 15 && gone.length < 45, `killed in the middle: ${gone.length} of 45 deleted`);
    // Rows exact at the latest version and at version 51 (inside the retention), for both readers.
    assert.deepEqual(await ids(store), range(60));
    assert.deepEqual(await ids(store, 51), range(50));
    const py = deltaRs(dir, [51, 62], [51, 62]);
    assert.deepEqual([py.ids[51], py.ids[62]], [range(50), range(60)]);
    // The next vacuum deletes the rest: what is left is the latest version's file and the files removed after the cutoff.
    const r = await vacuum(await loadSnapshot(store), store, {
      full: true,
      retainHours: 1,
      force: true,
      now: cutoff + 3_600_000,
    });
    assert.equal(r.files.length + gone.length, 45, 'the 40 files compacted before the cutoff and the 5 orphans');
    const kept = [...before].filter((f) => !gone.includes(f) && !r.files.includes(f));
    assert.deepEqual([...dataFiles()].sort(), kept.sort());
    assert.equal(kept.length, 1 + 21, 'the latest file, and the 21 files (1 + 20) compacted after the cutoff');
    assert.deepEqual(deltaRs(dir, [51, 62], [51, 62]).ids, { 51: range(50), 62: range(60) });
    await assert.rejects(
      () => ids(store, 40),
      (e: unknown) => e instanceof ReddStreamError && e.code === 'MISSING_DATA_FILE',
      'versions before the cutoff lost their files',
    );
  });
});
