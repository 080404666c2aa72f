/**
 * Soak of issue 15 (table maintenance): `reddit-stream consume` on a real
 * broker with `batch_size: 1`, so that nearly every post is its own commit,
 * over N real fixture posts produced at a steady rate; maintenance at its
 * defaults. Afterwards: commits and versions, live files, the log's size,
 * the maintenance the consumer logged, flush latency near versions 10, 1,000
 * and 5,000, `query` time against the same posts committed at once, and
 * delta-rs reading every id exactly once. Checks the thresholds and
 * exits 1 when one fails (a benchmark, not a test).
 *
 *   node bench/soak.ts [--posts 5000] [--rate 10] [--partitions 1] [--keep]
 *
 * The rate: a flush of one post takes ~15 ms, but compactions (every ~50
 * commits, ~0.6 s each, in the same process) and other work on the machine
 * delay some flushes past the next post, which then share a commit. Measured
 * on this 2-core machine (busy): 40 posts/s gave 86% one-post commits, 25/s
 * 93% (5,000 posts: 4,315 commits, highest version 4,405), 10/s 99.3%
 * (4,917 commits, version 5,020); the default of 10/s takes ~9.5 minutes
 * in all and reaches version 5,000.
 *
 * Posts: the first N lines of shared/fixtures/reddit/posts-all.ndjson.gz
 * (6,790 real posts with unique ids), keyed `t3_<id>`, round-robin over the
 * partitions of topic `reddit_soak`. The consumer runs the built code
 * (`bin/reddit-stream.js`, built here) in a temp working directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Admin } from '@platformatic/kafka';
import { startBroker } from '../scripts/kafka-broker.ts';
import { loadSnapshot, numRecords } from '../src/delta/snapshot.ts';
import { LocalObjectStore } from '../src/storage/local.ts';
import { benchProducer, buildDist } from './kafka-bench.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = process.env.REDDIT_STREAM_SHARED ?? path.resolve(ROOT, '../shared');
const CLI = path.join(ROOT, 'bin/reddit-stream.js');
const PYTHON = path.join(ROOT, '.venv/bin/python');

const { values: a } = parseArgs({
  options: {
    posts: { type: 'string', default: '5000' },
    rate: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '1' },
    /** Keep the temp directory (tables, logs) for inspection. */
    keep: { type: 'boolean', default: false },
    /** Node flags for the consumer only, space-separated (e.g. --trace-gc: its output goes to the kept consume.stdout). */
    'consumer-node-flags': { type: 'string', default: '' },
  },
});
const N = Number(a.posts);
const RATE = Number(a.rate);
const P = Number(a.partitions);
const TOPIC = 'reddit_soak';
const SQL = 'select count(*) as n, max(score) as max_score from soak';
const LIMITS = { liveFiles: 60, logMB: 30, queryRatio: 2 };
/** Versions near which flush latency is reported, and over how many batches. */
const AT_VERSIONS = [10, 1000, 5000];
const NEAREST = 50;

// ---------- small helpers ----------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const median = (xs: number[]) => quantile(xs, 0.5);
/** Files under `dir` (recursive), with sizes. */
function walk(dir: string): Array<{ path: string; size: number }> {
  const out: Array<{ path: string; size: number }> = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push({ path: p, size: fs.statSync(p).size });
  }
  return out;
}
/** Current RSS (MB) of a running process, or NaN. */
function rssMB(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}
/** CPU seconds (utime + stime) and peak RSS (MB) of a running process. */
function procFigures(pid: number | undefined): { cpuSeconds: number; peakRssMB: number } | null {
  if (!pid || !fs.existsSync(`/proc/${pid}/stat`)) return null;
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return {
    cpuSeconds: (Number(f[11]) + Number(f[12])) / 100,
    peakRssMB: hwm ? Math.round(Number(hwm[1]) / 1024) : NaN,
  };
}

// ---------- the posts ----------

const lines = gunzipSync(fs.readFileSync(path.join(SHARED, 'fixtures/reddit/posts-all.ndjson.gz')))
  .toString('utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .slice(0, N);
if (lines.length < N) throw new Error(`the fixture holds ${lines.length} posts, fewer than --posts ${N}`);
const ids = lines.map((l) => String((JSON.parse(l) as { id: unknown }).id));
if (new Set(ids).size !== N) throw new Error('the fixture posts do not have unique ids');

// ---------- the consumer's output ----------

interface Batch {
  version: number;
  posts: number;
  dead: number;
  ms: number;
  reason: string;
  /** Bench clock when the line arrived. */
  at: number;
  ranges: Array<{ partition: number; from: number; to: number }>;
}
const BATCH_RE =
  /^batch (\S+) v(\d+): (\d+) posts(?:, (\d+) dead letters)?(?:, \d+ duplicates merged)?(?:, \d+ already committed)? in (\d+) ms \(\d+ posts\/s, flush: ([^)]+)\)(.*)$/;

/** Reads the consumer's stdout (batch lines) and stderr (log lines) as they come. */
class ConsumerOutput {
  batches: Batch[] = [];
  spooled = 0;
  logLines: string[] = [];
  /** Highest committed offset per partition. */
  covered = new Map<number, number>();
  private partial = { out: '', err: '' };

  stdout(chunk: string): void {
    this.partial.out += chunk;
    const parts = this.partial.out.split('\n');
    this.partial.out = parts.pop()!;
    const at = performance.now();
    for (const l of parts) {
      if (l.startsWith('batch ') && l.includes('SPOOLED')) this.spooled++;
      const m = BATCH_RE.exec(l);
      if (!m || m[1] !== 'soak') continue;
      const ranges = [...m[7].matchAll(/\S+\[(\d+)\]@(\d+)-(\d+)/g)].map((r) => ({
        partition: Number(r[1]),
        from: Number(r[2]),
        to: Number(r[3]),
      }));
      for (const r of ranges) this.covered.set(r.partition, Math.max(this.covered.get(r.partition) ?? -1, r.to));
      this.batches.push({
        version: Number(m[2]),
        posts: Number(m[3]),
        dead: Number(m[4] ?? 0),
        ms: Number(m[5]),
        reason: m[6],
        at,
        ranges,
      });
    }
  }

  stderr(chunk: string): void {
    this.partial.err += chunk;
    const parts = this.partial.err.split('\n');
    this.partial.err = parts.pop()!;
    this.logLines.push(...parts.filter((l) => l.trim() !== ''));
  }

  /** Log lines whose message (after timestamp and level) starts with `msg`. */
  logged(msg: string): string[] {
    return this.logLines.filter(
      (l) => /^\S+ (INFO|WARN|ERROR|DEBUG)\s+/.test(l) && l.replace(/^\S+ \S+\s+/, '').startsWith(msg),
    );
  }
}

/** key=value fields of a log line (numbers as numbers). */
function fields(line: string): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const m of line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const v = m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2];
    out[m[1]] = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return out;
}

// ---------- commands measured from outside ----------

/** `reddit-stream query` on one table: wall seconds, peak RSS (MB, GNU time) and its rows. */
function timeQuery(table: string): { seconds: number; peakRssMB: number; rows: unknown[] } {
  const args = [CLI, 'query', '--table', table, '--format', 'ndjson', SQL];
  const useTime = fs.existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-f', 'TIME %M', process.execPath, ...args], { encoding: 'utf8' })
    : spawnSync(process.execPath, args, { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`query exited ${r.status}: ${r.stderr}`);
  const kb = /TIME (\d+)/.exec(r.stderr ?? '');
  return {
    seconds,
    peakRssMB: kb ? Math.round(Number(kb[1]) / 1024) : NaN,
    rows: r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as unknown),
  };
}

const DELTA_RS = String.raw`
import json, os, sys, time
from deltalake import DeltaTable
uri, ids_file = sys.argv[1], sys.argv[2]
expected = set(open(ids_file).read().split())
times = []
for _ in range(2):
    t = time.perf_counter()
    tbl = DeltaTable(uri).to_pyarrow_table(columns=['id'])
    times.append(time.perf_counter() - t)
ids = tbl.column('id').to_pylist()
got = set(ids)
sys.stdout.write(json.dumps({
    'count': len(ids), 'distinct': len(got),
    'missing': len(expected - got), 'unexpected': len(got - expected),
    'first_read_s': round(times[0], 3), 'second_read_s': round(times[1], 3),
    'files': len(DeltaTable(uri).file_uris()),
}) + '\n')
sys.stdout.flush()
os._exit(0)
`;

/** delta-rs reading the `id` column of a table (twice; the second read is warm). */
function deltaRs(table: string, idsFile: string): Record<string, number> {
  const r = spawnSync(PYTHON, ['-c', DELTA_RS, table, idsFile], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.status !== 0) throw new Error(`delta-rs exited ${r.status ?? r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

/** What a table looks like on disk and to our reader. */
async function tableFigures(dir: string) {
  const snap = await loadSnapshot(new LocalObjectStore(dir));
  const live = snap.files();
  const log = walk(path.join(dir, '_delta_log'));
  const isCheckpoint = (p: string) => /\.checkpoint(\.\d+\.\d+)?\.parquet$/.test(p);
  const data = walk(dir).filter(
    (f) => !f.path.includes(`${path.sep}_delta_log${path.sep}`) && f.path.endsWith('.parquet'),
  );
  const liveBytes = live.reduce((s, f) => s + Number(f.size), 0);
  return {
    version: snap.version,
    liveFiles: live.length,
    liveMB: round(liveBytes / 1e6, 2),
    rowsInStats: live.reduce((s, f) => s + (numRecords(f.stats) ?? NaN), 0),
    tombstones: snap.state.tombstones.size,
    checkpointVersion: snap.checkpointVersion,
    checkpointInterval: snap.tableProperty('delta.checkpointInterval') ?? '(default)',
    log: {
      files: log.length,
      MB: round(log.reduce((s, f) => s + f.size, 0) / 1e6, 2),
      commits: log.filter((f) => /\d{20}\.json$/.test(f.path)).length,
      commitMB: round(log.filter((f) => /\d{20}\.json$/.test(f.path)).reduce((s, f) => s + f.size, 0) / 1e6, 2),
      checkpoints: log.filter((f) => isCheckpoint(f.path)).length,
      checkpointMB: round(log.filter((f) => isCheckpoint(f.path)).reduce((s, f) => s + f.size, 0) / 1e6, 2),
      lastCheckpointMB: round(
        log.filter((f) => isCheckpoint(f.path)).sort((x, y) => (x.path < y.path ? 1 : -1))[0]?.size / 1e6 || 0,
        2,
      ),
    },
    dataFilesOnDisk: data.length,
    dataMBOnDisk: round(data.reduce((s, f) => s + f.size, 0) / 1e6, 1),
  };
}

function latencyStats(bs: Batch[]) {
  const ms = bs.map((b) => b.ms);
  return {
    batches: bs.length,
    versions: bs.length ? `${Math.min(...bs.map((b) => b.version))}-${Math.max(...bs.map((b) => b.version))}` : '',
    medianMs: median(ms),
    p90Ms: quantile(ms, 0.9),
    maxMs: ms.length ? Math.max(...ms) : NaN,
  };
}

// ---------- the run ----------

buildDist();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-soak-'));
const work = path.join(tmp, 'work');
const lake = path.join(tmp, 'lake');
const table = path.join(lake, 'soak');
const oneTable = path.join(tmp, 'one', 'soak');
fs.mkdirSync(work, { recursive: true });
const ndjson = path.join(tmp, 'soak.ndjson');
fs.writeFileSync(ndjson, lines.join('\n') + '\n');
const idsFile = path.join(tmp, 'ids.txt');
fs.writeFileSync(idsFile, ids.join('\n') + '\n');

const broker = await startBroker({ partitions: P });
const out = new ConsumerOutput();
const results: Record<string, any> = {
  posts: N,
  rate: RATE,
  partitions: P,
  postMB: round(lines.reduce((s, l) => s + Buffer.byteLength(l), 0) / 1e6, 1),
  node: process.version,
  cpus: os.cpus().length,
  date: new Date().toISOString(),
};
let failed = false;
try {
  const admin = new Admin({ clientId: 'soak', bootstrapBrokers: [broker.bootstrap] });
  await admin.createTopics({ topics: [TOPIC], partitions: P, replicas: 1 });
  await admin.close();

  // 1. consume, maintenance at its defaults
  const child = spawn(
    process.execPath,
    [
      ...a['consumer-node-flags'].split(/\s+/).filter(Boolean),
      CLI,
      'consume',
      '--subreddits',
      'soak',
      '--kafka-host',
      broker.bootstrap,
      '--table-root',
      lake,
      '--spool-dir',
      path.join(tmp, 'spool'),
      '--group-id',
      'soak',
      '--batch-size',
      '1',
      '--processing-interval',
      '1',
    ],
    {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // Kept with --keep: the consumer's batch lines and log.
  const rawOut = fs.createWriteStream(path.join(tmp, 'consume.stdout'));
  const rawErr = fs.createWriteStream(path.join(tmp, 'consume.stderr'));
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout(d), rawOut.write(d)));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr(d), rawErr.write(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  process.once('exit', () => child.kill('SIGKILL'));
  // Produce once the consumer owns its partitions, so the first posts are not a backlog.
  const joinBy = performance.now() + 60_000;
  while (!out.logged('partition assignment changed').length) {
    if (child.exitCode !== null || performance.now() > joinBy) {
      throw new Error(`consume got no partitions (exit ${child.exitCode}):\n${out.logLines.join('\n')}`);
    }
    await sleep(100);
  }

  // The consumer's RSS every second, with the table version it had reached.
  const rss: Array<{ version: number; mb: number }> = [];
  const sampler = setInterval(
    () => rss.push({ version: out.batches.at(-1)?.version ?? 0, mb: rssMB(child.pid) }),
    1000,
  );

  // 2. produce at a steady rate: every message that is due goes in one send
  const producer = benchProducer(broker.bootstrap);
  const sentAt = new Float64Array(N);
  const t0 = performance.now();
  for (let i = 0; i < N;) {
    const now = performance.now();
    const due = Math.min(N, Math.floor(((now - t0) / 1000) * RATE) + 1);
    if (due > i) {
      const batch = [];
      for (; i < due; i++) {
        sentAt[i] = now;
        batch.push({
          topic: TOPIC,
          partition: i % P,
          key: Buffer.from(`t3_${ids[i]}`),
          value: Buffer.from(lines[i]),
        });
      }
      await producer.send({ messages: batch });
    }
    await sleep(Math.max(0, t0 + (i * 1000) / RATE - performance.now()));
  }
  const produceSeconds = (performance.now() - t0) / 1000;
  await producer.close();
  results.produce = { seconds: round(produceSeconds), postsPerSec: round(N / produceSeconds) };

  // 3. until every produced offset is committed (fresh topic: partition p holds offsets 0..count-1)
  const lastOffset = (p: number) => Math.ceil((N - p) / P) - 1;
  const deadline = performance.now() + Math.max(600_000, (N / RATE) * 4000);
  while ([...Array(P).keys()].some((p) => (out.covered.get(p) ?? -1) < lastOffset(p))) {
    if (child.exitCode !== null) throw new Error(`consume exited ${child.exitCode} before committing everything`);
    if (performance.now() > deadline) throw new Error('consume did not commit every post in time');
    await sleep(200);
  }
  const consumeSeconds = (performance.now() - t0) / 1000;
  const proc = procFigures(child.pid);
  clearInterval(sampler);
  child.kill('SIGTERM');
  const exit = await exited;
  const stopped = out.logged('stopped')[0];
  results.consume = {
    secondsFromFirstProduce: round(consumeSeconds),
    tailAfterProduceSeconds: round(consumeSeconds - produceSeconds),
    exit: exit.code ?? exit.signal,
    ...proc,
    stoppedLine: stopped ? fields(stopped) : null,
  };

  // 4. commits and latency
  const bs = out.batches.sort((x, y) => x.version - y.version);
  const posts = bs.reduce((s, b) => s + b.posts, 0);
  const perCommit = new Map<number, number>();
  for (const b of bs) perCommit.set(b.posts, (perCommit.get(b.posts) ?? 0) + 1);
  const lag = (b: Batch) => {
    const lastIdx = Math.max(...b.ranges.map((r) => r.to * P + r.partition));
    return b.at - sentAt[lastIdx];
  };
  const maxVersion = bs.length ? bs[bs.length - 1].version : -1;
  results.commits = {
    ingestCommits: bs.length,
    postsCommitted: posts,
    deadLetters: bs.reduce((s, b) => s + b.dead, 0),
    spooled: out.spooled,
    postsPerCommit: Object.fromEntries([...perCommit].sort((x, y) => x[0] - y[0])),
    singlePostCommitsPct: round((100 * (perCommit.get(1) ?? 0)) / Math.max(1, bs.length)),
    flushReasons: bs.reduce<Record<string, number>>((o, b) => ({ ...o, [b.reason]: (o[b.reason] ?? 0) + 1 }), {}),
    highestBatchVersion: maxVersion,
    commitsPerSecondWhileProducing: round(bs.filter((b) => b.at - t0 <= produceSeconds * 1000).length / produceSeconds),
  };
  results.flushLatency = Object.fromEntries(
    AT_VERSIONS.map((v) => {
      const reached = maxVersion >= v;
      const near = [...bs].sort((x, y) => Math.abs(x.version - v) - Math.abs(y.version - v)).slice(0, NEAREST);
      return [`v${v}`, reached ? latencyStats(near) : { reached: false, highest: maxVersion }];
    }),
  );
  results.flushLatency.last = latencyStats(bs.slice(-NEAREST));
  results.flushLatency.all = latencyStats(bs);
  // The trend, per 500 versions, and how far behind the producer the commits were.
  const compacted = out.logged('compacted').map(fields);
  const buckets: Record<string, any> = {};
  for (let v0 = 0; v0 <= maxVersion; v0 += 500) {
    const inB = bs.filter((b) => b.version >= v0 && b.version < v0 + 500);
    if (!inB.length) continue;
    buckets[`${v0}-${v0 + 499}`] = {
      batches: inB.length,
      medianMs: median(inB.map((b) => b.ms)),
      p90Ms: quantile(
        inB.map((b) => b.ms),
        0.9,
      ),
      lagMedianMs: Math.round(median(inB.map(lag))),
      lagP90Ms: Math.round(quantile(inB.map(lag), 0.9)),
      maxRssMB: Math.max(...rss.filter((x) => x.version >= v0 && x.version < v0 + 500).map((x) => x.mb)),
      compactionMsMedian: median(
        compacted.filter((f) => Number(f.version) >= v0 && Number(f.version) < v0 + 500).map((f) => Number(f.ms)),
      ),
    };
  }
  results.byVersion = buckets;
  const lags = bs.map(lag);
  results.endToEndLag = {
    note: 'producer send -> batch line read by the bench',
    medianMs: Math.round(median(lags)),
    p90Ms: Math.round(quantile(lags, 0.9)),
    maxMs: Math.round(Math.max(...lags)),
  };

  // 5. maintenance the consumer logged
  results.maintenance = {
    compactions: compacted.length,
    compactionFilesIn: compacted.reduce((s, f) => s + Number(f.files_in), 0),
    compactionFilesOut: compacted.reduce((s, f) => s + Number(f.files_out), 0),
    compactionMsMedian: median(compacted.map((f) => Number(f.ms))),
    compactionMsMax: compacted.length ? Math.max(...compacted.map((f) => Number(f.ms))) : NaN,
    compactionMbInMax: compacted.length ? Math.max(...compacted.map((f) => Number(f.mb_in))) : NaN,
    compactionsGaveWay: out.logged('compaction gave way').length,
    compactionsFailed: out.logged('compaction failed').length,
    vacuumsLogged: out.logged('vacuum ').length,
    vacuumsFailed: out.logged('vacuum failed').length,
    logCleanupsLogged: out.logged('log cleanup ').length,
    logCleanupsFailed: out.logged('log cleanup failed').length,
    checkpointFailures: out.logged('checkpoint failed').length,
    note: 'vacuum and log cleanup log a line only when they delete something',
  };
  results.warnings = out.logLines.filter((l) => /^\S+ (WARN|ERROR)/.test(l)).slice(0, 20);

  // 6. the table, and the same posts in one commit
  results.soaked = await tableFigures(table);
  const load = spawnSync(
    process.execPath,
    [CLI, 'load', '--table', oneTable, '--batch-size', String(Math.max(100000, N)), ndjson],
    { cwd: work, encoding: 'utf8' },
  );
  if (load.status !== 0) throw new Error(`load exited ${load.status}: ${load.stderr}`);
  results.oneCommit = await tableFigures(oneTable);

  // 7. query, interleaved, median of 3 each
  const q = { soaked: [] as ReturnType<typeof timeQuery>[], oneCommit: [] as ReturnType<typeof timeQuery>[] };
  for (let i = 0; i < 3; i++) {
    q.soaked.push(timeQuery(table));
    q.oneCommit.push(timeQuery(oneTable));
  }
  const qs = (rs: ReturnType<typeof timeQuery>[]) => ({
    medianSeconds: round(median(rs.map((r) => r.seconds)), 2),
    runs: rs.map((r) => round(r.seconds, 2)),
    peakRssMB: Math.max(...rs.map((r) => r.peakRssMB)),
    result: rs[0].rows[0],
  });
  results.query = {
    sql: SQL,
    soaked: qs(q.soaked),
    oneCommit: qs(q.oneCommit),
  };
  results.query.ratio = round(results.query.soaked.medianSeconds / results.query.oneCommit.medianSeconds, 2);

  // 8. delta-rs
  results.deltaRs = { soaked: deltaRs(table, idsFile), oneCommit: deltaRs(oneTable, idsFile) };
  results.deltaRs.readRatio = round(results.deltaRs.soaked.second_read_s / results.deltaRs.oneCommit.second_read_s, 2);

  // 9. the thresholds
  const exactlyOnce = (d: Record<string, number>) =>
    d.count === N && d.distinct === N && d.missing === 0 && d.unexpected === 0;
  const sameAnswer = JSON.stringify(results.query.soaked.result) === JSON.stringify(results.query.oneCommit.result);
  results.checks = {
    [`live files <= ~${LIMITS.liveFiles}`]: [results.soaked.liveFiles <= LIMITS.liveFiles, results.soaked.liveFiles],
    [`_delta_log < ${LIMITS.logMB} MB`]: [results.soaked.log.MB < LIMITS.logMB, `${results.soaked.log.MB} MB`],
    [`query within ${LIMITS.queryRatio}x of one commit (same answer)`]: [
      results.query.ratio <= LIMITS.queryRatio && sameAnswer,
      `${results.query.ratio}x${sameAnswer ? '' : ', different answers'}`,
    ],
    'delta-rs sees every id exactly once': [
      exactlyOnce(results.deltaRs.soaked),
      `${results.deltaRs.soaked.count} rows, ${results.deltaRs.soaked.distinct} distinct, ${results.deltaRs.soaked.missing} missing`,
    ],
    'our reader: rows in live files = posts': [results.soaked.rowsInStats === N, results.soaked.rowsInStats],
  };
  failed = Object.values(results.checks as Record<string, [boolean, unknown]>).some(([ok]) => !ok);
} finally {
  await broker.stop();
  if (a.keep) console.error(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}

// ---------- report ----------

console.log(JSON.stringify(results, null, 2));
const r = results;
const row = (k: string, ...v: unknown[]) => console.log(`| ${k} | ${v.map(String).join(' | ')} |`);
const lat = (x: any) =>
  x.reached === false
    ? `not reached (highest ${x.highest})`
    : `${x.medianMs} / ${x.p90Ms} ms (${x.batches} batches, v${x.versions})`;
console.log(`\nsoak: ${N} real posts at ${RATE}/s, ${P} partition(s), batch_size 1, maintenance at defaults\n`);
console.log('| | soaked (consume, batch_size 1) | same posts in 1 commit |');
console.log('| --- | --- | --- |');
row(
  'commits (ingest) / final version',
  `${r.commits.ingestCommits} / v${r.soaked.version}`,
  `1 / v${r.oneCommit.version}`,
);
row('posts per commit', JSON.stringify(r.commits.postsPerCommit), N);
row(
  'live files (MB)',
  `${r.soaked.liveFiles} (${r.soaked.liveMB})`,
  `${r.oneCommit.liveFiles} (${r.oneCommit.liveMB})`,
);
row('data files on disk', r.soaked.dataFilesOnDisk, r.oneCommit.dataFilesOnDisk);
row(
  '`_delta_log`: MB (files; checkpoints MB)',
  `${r.soaked.log.MB} (${r.soaked.log.files}; ${r.soaked.log.checkpointMB})`,
  `${r.oneCommit.log.MB} (${r.oneCommit.log.files}; ${r.oneCommit.log.checkpointMB})`,
);
row('tombstones', r.soaked.tombstones, r.oneCommit.tombstones);
row(
  'compactions / vacuums / log cleanups logged',
  `${r.maintenance.compactions} / ${r.maintenance.vacuumsLogged} / ${r.maintenance.logCleanupsLogged}`,
  '',
);
for (const v of AT_VERSIONS) row(`flush median / p90 near v${v}`, lat(r.flushLatency[`v${v}`]), '');
row(`flush median / p90, last ${NEAREST} batches`, lat(r.flushLatency.last), '');
row(
  '`query` median of 3 (peak RSS)',
  `${r.query.soaked.medianSeconds} s (${r.query.soaked.peakRssMB} MB)`,
  `${r.query.oneCommit.medianSeconds} s (${r.query.oneCommit.peakRssMB} MB)`,
);
row('`query` ratio', `${r.query.ratio}x`, '1x');
row(
  'delta-rs `id`: rows / distinct / read s (cold, warm)',
  `${r.deltaRs.soaked.count} / ${r.deltaRs.soaked.distinct} / ${r.deltaRs.soaked.first_read_s}, ${r.deltaRs.soaked.second_read_s}`,
  `${r.deltaRs.oneCommit.count} / ${r.deltaRs.oneCommit.distinct} / ${r.deltaRs.oneCommit.first_read_s}, ${r.deltaRs.oneCommit.second_read_s}`,
);
row(
  'consumer: peak RSS / CPU seconds / end-to-end lag median, p90',
  `${r.consume.peakRssMB} MB / ${r.consume.cpuSeconds} s / ${r.endToEndLag.medianMs}, ${r.endToEndLag.p90Ms} ms`,
  '',
);
console.log('\n| versions | batches | flush median / p90 | lag median / p90 | consumer RSS max | compaction median |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [k, b] of Object.entries(r.byVersion as Record<string, any>)) {
  row(
    k,
    b.batches,
    `${b.medianMs} / ${b.p90Ms} ms`,
    `${b.lagMedianMs} / ${b.lagP90Ms} ms`,
    `${b.maxRssMB} MB`,
    Number.isFinite(b.compactionMsMedian) ? `${b.compactionMsMedian} ms` : '-',
  );
}
console.log('');
for (const [name, [ok, value]] of Object.entries(r.checks as Record<string, [boolean, unknown]>)) {
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${String(value)}`);
}
process.exitCode = failed ? 1 : 0;
