/**
 * Table maintenance racing ingestion (issue 15), with a real Kafka broker:
 * two `reddit-stream consume` processes of one group write one table in small
 * commits (their automatic compaction, vacuum and log cleanup on), while
 * `reddit-stream optimize` and `reddit-stream vacuum` run again and again
 * against that table, and expired log files are cleaned up. On a local table
 * and on S3 (a real S3-compatible server).
 *
 * Afterwards:
 * - the latest version holds every posted id exactly once, for our reader
 *   and for delta-rs;
 * - every version still in the log is loaded by both readers with the same
 *   files, and holds exactly as many rows (numRecords) as the Kafka offsets
 *   its txn actions account for: no version lost or doubled a row;
 * - every version whose files are all still there reads the same ids in
 *   both readers, none twice. Vacuum runs with a forced zero retention, so
 *   versions before a compaction legitimately lose the files it replaced;
 *   the files a version misses are never ones the latest version reads.
 *
 * The maintenance loops run the built CLI (bin/reddit-stream.js runs dist/:
 * `npm test` builds it first).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { cleanUpExpiredLogs } from '../../src/delta/log-cleanup.ts';
import { LOG_DIR } from '../../src/delta/log-path.ts';
import { classifyLog } from '../../src/delta/log-segment.ts';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot, type Snapshot } from '../../src/delta/snapshot.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { isDataPath } from '../../src/delta/vacuum.ts';
import { postTableSchema } from '../../src/reddit/post-schema.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { S3ObjectStore } from '../../src/storage/s3.ts';
import { startS3Server, type S3Server } from '../../scripts/s3-server.ts';
import { REPO_ROOT, SHARED } from '../helpers/fixtures.ts';
import { createTopics, produce, startBroker, startConsume, type Broker, type OutMessage } from '../helpers/kafka.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

let broker: Broker;
let s3: S3Server;

const POSTS = 2400;
const PARTITIONS = 4;
/**
 * A checkpoint every 10 commits; tombstones and unreferenced files older than
 * 30 s may go (the consumers' automatic full vacuum and `vacuum --full`);
 * log files older than 10 s that precede a checkpoint as old may go.
 */
const TABLE_PROPERTIES = {
  'delta.checkpointInterval': '10',
  'delta.deletedFileRetentionDuration': 'interval 30 seconds',
  'delta.logRetentionDuration': 'interval 10 seconds',
};
/** The consumers' automatic maintenance: compaction at 8 small files, a full vacuum every 7.2 s. */
const CONSUMER_ENV = { REDDIT_STREAM_COMPACT_MIN_FILES: '8', REDDIT_STREAM_VACUUM_EVERY_HOURS: '0.002' };

const s3env = () => ({
  REDDIT_STREAM_S3_ENDPOINT: s3.endpoint,
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  AWS_REGION: 'us-east-1',
});

interface Variant {
  name: string;
  /** Where the consumers' tables go (under the test's working directory when local). */
  tableRoot(cwd: string): string;
  store(uri: string): ObjectStore;
  env(): Record<string, string>;
  /** delta-rs storage options. */
  pyOptions(): Record<string, string> | null;
}

const VARIANTS: Variant[] = [
  {
    name: 'local',
    tableRoot: (cwd) => path.join(cwd, 'lake'),
    store: (uri) => new LocalObjectStore(uri),
    env: () => ({}),
    pyOptions: () => null,
  },
  {
    name: 's3',
    tableRoot: () => 's3://lake/race',
    store: (uri) =>
      new S3ObjectStore(uri, {
        endpoint: s3.endpoint,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      }),
    env: s3env,
    pyOptions: () => ({
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ALLOW_HTTP: 'true',
    }),
  },
];

/** `n` real posts of the fixture (ndjson lines), from line `from`. */
function realPosts(from: number, n: number): string[] {
  const text = zlib.gunzipSync(fs.readFileSync(path.join(SHARED, 'fixtures/reddit/posts-all.ndjson.gz'))).toString();
  return text
    .split('\n')
    .filter(Boolean)
    .slice(from, from + n);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, detail: () => string, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(250);
  }
  assert.fail(`timed out waiting for ${what}\n${detail()}`);
}

interface Run {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

/** One run of the built CLI. */
function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'bin/reddit-stream.js'), ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ args, code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Run the CLI with `argsOf(i)` for i = 0, 1, ... until `stop` is set; every run's outcome. */
async function repeatCli(stop: { set: boolean }, argsOf: (i: number) => string[], env: Record<string, string>) {
  const runs: Run[] = [];
  for (let i = 0; !stop.set; i++) {
    runs.push(await cli(argsOf(i), env));
    await sleep(200);
  }
  return runs;
}

/** Expired log cleanup, again and again until `stop` is set; the number of log files deleted. */
async function cleanLogs(stop: { set: boolean }, store: ObjectStore): Promise<number> {
  let deleted = 0;
  while (!stop.set) {
    deleted += (await cleanUpExpiredLogs(store, TABLE_PROPERTIES)).deleted;
    await sleep(1000);
  }
  return deleted;
}

/** Rows of the txn actions of `group` on `topic`: each Kafka offset up to a txn version is one post. */
const committedPosts = (snap: Snapshot, prefix: string) =>
  snap
    .txns()
    .filter((t) => t.appId.startsWith(prefix))
    .reduce((n, t) => n + t.version + 1, 0);
const numRecords = (snap: Snapshot) => snap.files().reduce((n, f) => n + JSON.parse(f.stats!).numRecords, 0);
const filesOf = (snap: Snapshot) => snap.files().map((f) => decodeURIComponent(f.path));
const digest = (ids: string[]) =>
  createHash('sha1')
    .update([...ids].sort().join('\n'))
    .digest('hex');

interface PyVersion {
  files?: string[];
  rows?: number;
  distinct?: number;
  digest?: string;
  error?: string;
}

/**
 * delta-rs at every version from `lo` to `hi`: its files (relative paths), and
 * for the versions of `read` its ids (count, distinct, digest); whether it
 * refuses version `lo - 1`.
 */
function deltaRs(uri: string, opts: Record<string, string> | null, lo: number, hi: number, read: number[]) {
  return runPython(
    `${PY_PRELUDE}
import hashlib
from deltalake import DeltaTable
uri, opts, lo, hi, read = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), set(json.loads(sys.argv[5]))
prefix = uri.rstrip('/') + '/'
def rel(u):
    for p in (prefix, 'file://' + prefix):
        if u.startswith(p):
            return u[len(p):]
    return u
out = {}
for v in range(lo, hi + 1):
    try:
        t = DeltaTable(uri, version=v, storage_options=opts)
        e = {'files': sorted(rel(u) for u in t.file_uris())}
        if v in read:
            ids = t.to_pyarrow_table(columns=['id']).column('id').to_pylist()
            e.update(rows=len(ids), distinct=len(set(ids)), digest=hashlib.sha1('\\n'.join(sorted(ids)).encode()).hexdigest())
    except Exception as ex:
        e = {'error': repr(ex)[:500]}
    out[v] = e
refused = None
if lo > 0:
    try:
        DeltaTable(uri, version=lo - 1, storage_options=opts)
        refused = False
    except Exception:
        refused = True
emit({'versions': out, 'refusedBelow': refused})
`,
    [uri, JSON.stringify(opts), String(lo), String(hi), JSON.stringify(read)],
  ) as { versions: Record<string, PyVersion>; refusedBelow: boolean | null };
}

/** The oldest version the log can rebuild: 0, or its oldest checkpoint once the commits before it are gone. */
async function oldestVersion(store: ObjectStore): Promise<number> {
  const log = classifyLog(await store.list(`${LOG_DIR}/`));
  return log.commits.has(0) ? 0 : log.checkpoints[0].version;
}

interface OurVersion {
  snap: Snapshot;
  files: string[];
  rows: number;
}

/** Our reader at every version from `lo` to `hi`; each holds exactly the posts its txn actions account for. */
async function ourVersions(store: ObjectStore, lo: number, hi: number, appPrefix: string) {
  const ours = new Map<number, OurVersion>();
  for (let version = lo; version <= hi; version++) {
    const snap = await loadSnapshot(store, { version });
    const rows = numRecords(snap);
    assert.equal(rows, committedPosts(snap, appPrefix), `version ${version}: rows = posts its txns account for`);
    ours.set(version, { snap, files: filesOf(snap).sort(), rows });
  }
  return ours;
}

/** Both readers read the ids of a version whose files are all there: as many as its rows, none twice. */
async function assertReads(version: number, o: OurVersion, py: PyVersion) {
  const got = (await readAllRows(o.snap, { columns: ['id'] })).map((r) => String(r.id));
  const { rows } = o;
  const mine = { rows: got.length, distinct: new Set(got).size };
  assert.deepEqual(mine, { rows, distinct: rows }, `our reader, version ${version}`);
  const theirs = { rows: py.rows, distinct: py.distinct, digest: py.digest };
  assert.deepEqual(theirs, { rows, distinct: rows, digest: digest(got) }, `delta-rs, version ${version}`);
}

/** The assertions of the module comment, over every version in the log. */
async function assertEveryVersion(v: Variant, uri: string, appPrefix: string, postedIds: string[]) {
  const store = v.store(uri);
  const latest = await loadSnapshot(store);
  const lo = await oldestVersion(store);
  const ours = await ourVersions(store, lo, latest.version, appPrefix);
  const present = new Set((await store.list('')).map((o) => o.path).filter(isDataPath));
  const live = new Set(filesOf(latest));
  const intact: number[] = [];
  for (const [version, o] of ours) {
    const missing = o.files.filter((f) => !present.has(f));
    const msg = `version ${version}: only files the latest version no longer reads are gone`;
    assert.deepEqual(
      missing.filter((f) => live.has(f)),
      [],
      msg,
    );
    if (missing.length === 0) intact.push(version);
  }
  const py = deltaRs(uri, v.pyOptions(), lo, latest.version, intact);
  if (lo > 0) assert.equal(py.refusedBelow, true, `delta-rs refuses version ${lo - 1}, cleaned up`);
  for (const [version, o] of ours) {
    const d = py.versions[version];
    assert.deepEqual(d.files, o.files, `delta-rs loads version ${version} with our files (${d.error ?? ''})`);
  }
  for (const version of intact) await assertReads(version, ours.get(version)!, py.versions[version]);
  const all = (await readAllRows(latest, { columns: ['id'] })).map((r) => String(r.id));
  assert.deepEqual(all.sort(), [...postedIds].sort(), 'the latest version holds every posted id exactly once');
  return { versions: ours.size, intact: intact.length };
}

/**
 * What a run of `optimize` did. Giving way to a concurrent compaction is expected; so is failing on a file
 * gone missing: a forced zero retention may delete a file a compaction is reading (another one replaced it).
 */
function optimizeOutcome(r: Run): 'compacted' | 'gave way' | 'nothing to do' | 'file vacuumed' | 'unexpected' {
  if (r.code !== 0) return /\[MISSING_DATA_FILE\]/.test(r.stderr) ? 'file vacuumed' : 'unexpected';
  if (/: version \d+: \d+ files/.test(r.stdout)) return 'compacted';
  if (/gave way to a concurrent change/.test(r.stdout)) return 'gave way';
  return /nothing to compact/.test(r.stdout) ? 'nothing to do' : 'unexpected';
}

const lastAssignment = (text: string) =>
  [...text.matchAll(/partition assignment changed .*?assigned=(\S+)/g)].pop()?.[1] ?? '';
const owned = (text: string) => lastAssignment(text).split(',').filter(Boolean);

/** Two consumers of one group on the table root, once they have split the partitions between them. */
async function startConsumerPair(v: Variant, cwd: string, sub: string, group: string) {
  const args = [
    ...['--kafka-host', broker.bootstrap, '--subreddits', sub, '--table-root', v.tableRoot(cwd)],
    ...['--group-id', group, '--batch-size', '5', '--processing-interval', '0.2'],
    ...['--spool-dir', path.join(cwd, 'spool')],
  ];
  const env = { ...v.env(), ...CONSUMER_ENV };
  const a = startConsume(args, cwd, env);
  const b = startConsume(args, cwd, env);
  const logs = () => `--- a ---\n${a.stderr().slice(-3000)}\n--- b ---\n${b.stderr().slice(-3000)}`;
  const split = () => {
    const [pa, pb] = [owned(a.stderr()), owned(b.stderr())];
    return pa.length > 0 && pb.length > 0 && pa.length + pb.length === PARTITIONS;
  };
  await waitFor('the group to split the partitions', split, logs);
  return { a, b, logs };
}

/**
 * Maintenance by hand, again and again until stopped: `optimize`; `vacuum`
 * with a forced zero retention (every tombstone) and `vacuum --full` with
 * the table's (old unreferenced files), in turn; expired log cleanup.
 */
interface MaintenanceRuns {
  optimizeRuns: Run[];
  vacuumRuns: Run[];
  logFilesDeleted: number;
}

function startMaintenanceLoops(v: Variant, uri: string, store: ObjectStore): () => Promise<MaintenanceRuns> {
  const stop = { set: false };
  const vacuumArgs = (i: number) =>
    i % 2 === 0 ? ['vacuum', uri, '--retain-hours', '0', '--force'] : ['vacuum', uri, '--full'];
  const loops = Promise.all([
    repeatCli(stop, () => ['optimize', uri], v.env()),
    repeatCli(stop, vacuumArgs, v.env()),
    cleanLogs(stop, store),
  ]);
  return async () => {
    stop.set = true;
    const [optimizeRuns, vacuumRuns, logFilesDeleted] = await loops;
    return { optimizeRuns, vacuumRuns, logFilesDeleted };
  };
}

/**
 * The maintenance raced for real: compactions committed (by hand or in the
 * consumers), by-hand ones found work or gave way to a concurrent one;
 * vacuums and log cleanup deleted files. Returns a summary.
 */
function assertMaintenanceRaced(m: MaintenanceRuns, consumers: string) {
  for (const r of m.vacuumRuns) assert.equal(r.code, 0, r.stderr);
  const outcomes = m.optimizeRuns.map(optimizeOutcome);
  const outputs = m.optimizeRuns.map((r) => r.stdout + r.stderr).join('');
  assert.ok(
    outcomes.every((o) => o !== 'unexpected'),
    outputs,
  );
  assert.ok(
    outcomes.some((o) => o === 'compacted' || o === 'gave way'),
    `optimize found work: ${outcomes}`,
  );
  const automatic = consumers.match(/ compacted /g)?.length ?? 0;
  assert.ok(automatic + outcomes.filter((o) => o === 'compacted').length > 0, 'compactions committed');
  assert.ok(
    m.vacuumRuns.some((r) => /: deleted [1-9]\d* files/.test(r.stdout)),
    'a vacuum deleted files',
  );
  assert.ok(m.logFilesDeleted > 0, 'log cleanup deleted expired log files');
  return `optimize runs: ${outcomes.join(', ')}; ${m.vacuumRuns.length} vacuum runs; ${automatic} automatic compactions; ${m.logFilesDeleted} log files deleted`;
}

describe('maintenance racing two consumers (real Kafka)', { timeout: 600_000 }, () => {
  before(async () => {
    [broker, s3] = await Promise.all([startBroker({ partitions: PARTITIONS }), startS3Server()]);
    s3.createBucket('lake');
  });
  after(async () => {
    await Promise.all([broker?.stop(), s3?.stop()]);
  });

  VARIANTS.forEach((v, k) => {
    it(`two consumers, optimize, vacuum and log cleanup on one table: rows exact at every version (${v.name})`, async () => {
      const sub = `race${v.name}`;
      const [topic, group] = [`reddit_${sub}`, `g-${sub}`];
      await createTopics(broker.bootstrap, [topic], PARTITIONS);
      const posts = realPosts(k * POSTS, POSTS);
      const msgs: OutMessage[] = posts.map((line, i) => ({
        topic,
        partition: i % PARTITIONS,
        key: JSON.parse(line).name,
        value: line,
      }));
      const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-race-'));
      const uri = `${v.tableRoot(cwd)}/${sub}`;
      const store = v.store(uri);
      await DeltaTable.create(store, { schema: postTableSchema(), name: sub, configuration: TABLE_PROPERTIES });

      const { a, b, logs } = await startConsumerPair(v, cwd, sub, group);
      const stopMaintenance = startMaintenanceLoops(v, uri, store);
      // A steady trickle: 20 posts every 150 ms, so the consumers commit small batches all along.
      await produce(broker.bootstrap, msgs, 20, 150);
      const prefix = `${group}-${topic}-`;
      const allCommitted = async () => committedPosts(await loadSnapshot(store), prefix) === POSTS;
      await waitFor('every post committed', allCommitted, logs);
      const maintenance = await stopMaintenance();
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      const [ra, rb] = await Promise.all([a.done, b.done]);
      assert.deepEqual([ra.code, rb.code], [0, 0], logs());
      for (const r of [ra, rb]) assert.match(r.stdout, new RegExp(`^batch ${sub} v\\d+`, 'm'), 'both committed');
      const summary = assertMaintenanceRaced(maintenance, ra.stderr + rb.stderr);

      const ids = posts.map((l) => JSON.parse(l).id as string);
      const seen = await assertEveryVersion(v, uri, prefix, ids);
      console.log(`${v.name}: ${seen.versions} versions in the log, ${seen.intact} with all their files; ${summary}`);
    });
  });
});
