/**
 * Concurrent writers on one local table.
 *
 * - N separate Node processes each append K commits (lock-stepped, so that
 *   they race for the same versions): every commit lands exactly once, the log
 *   is contiguous, rows are exact, no data file is added twice or orphaned,
 *   every worker's txn ends at K-1, and delta-rs agrees.
 * - Two writers with the SAME txn appId race for each txn version: exactly
 *   one commit lands, the other gets a `conflict` result (not an exception),
 *   both across processes and deterministically in-process (a gate holds both
 *   commits until both writers have planned on the same snapshot).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  DeltaTable,
  LocalObjectStore,
  decodeFilePath,
  field,
  loadSnapshot,
  numRecords,
  parseCommit,
  readAllRows,
  struct,
  type ListOptions,
  type ObjectMeta,
  type ObjectStore,
} from '../../src/index.ts';
import { PY_PRELUDE, pythonPath, runPython } from '../helpers/python.ts';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'append-worker.ts');
const SCHEMA = struct([
  field('id', 'long'),
  field('worker', 'integer'),
  field('seq', 'integer'),
  field('payload', 'string'),
]);

const tempDirs: string[] = [];
function tempTable(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `reddit-stream-concurrency-${name}-`));
  tempDirs.push(dir);
  return dir;
}

after(() => {
  if (process.env.KEEP_CONCURRENCY_TABLES) return;
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

before(() => {
  pythonPath(); // provision the venv up front: a broken Python setup fails here, loudly
});

// ---------------------------------------------------------------------------
// Worker processes

interface ResultEvent {
  event: 'result';
  worker: number;
  round: number;
  kind: 'committed' | 'conflict';
  version: number;
  attempts?: number;
  files?: string[];
  rows?: number;
  checkpointError?: string | null;
  reason?: string;
  winningTxns?: Array<{ appId: string; version: number }>;
}

/**
 * Run one worker process per entry of `appIds` (worker i uses appIds[i]), each
 * doing `commits` appends of `rows` rows; before every commit all workers wait
 * until every worker is ready, then are released together.
 */
async function runWorkers(
  dir: string,
  appIds: string[],
  commits: number,
  rows: number,
  timeoutMs = 90_000,
): Promise<ResultEvent[][]> {
  const n = appIds.length;
  const children: ChildProcess[] = [];
  const results: ResultEvent[][] = appIds.map(() => []);
  const stderr: string[] = appIds.map(() => '');
  const ready = new Map<number, Set<number>>();
  return new Promise<ResultEvent[][]>((resolve, reject) => {
    let settled = false;
    let exited = 0;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      reject(new Error(`${err.message}\n${stderr.map((s, i) => `--- worker ${i} stderr ---\n${s}`).join('\n')}`));
    };
    const timer = setTimeout(() => fail(new Error(`workers did not finish within ${timeoutMs} ms`)), timeoutMs);
    for (let w = 0; w < n; w++) {
      const child = spawn(
        process.execPath,
        ['--no-warnings', WORKER, dir, String(w), appIds[w], String(commits), String(rows)],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      children.push(child);
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        stderr[w] += d;
      });
      child.stdin!.on('error', () => undefined); // a dead worker is reported by its exit
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        let ev: any;
        try {
          ev = JSON.parse(line);
        } catch {
          fail(new Error(`worker ${w} printed a non-JSON line: ${line}`));
          return;
        }
        if (ev.event === 'error') fail(new Error(`worker ${w} threw: ${ev.message}`));
        else if (ev.event === 'result') results[w].push(ev as ResultEvent);
        else if (ev.event === 'ready') {
          const set = ready.get(ev.round) ?? new Set<number>();
          set.add(w);
          ready.set(ev.round, set);
          if (set.size === n) for (const c of children) c.stdin!.write('go\n');
        }
      });
      child.on('exit', (code, signal) => {
        if (code !== 0) {
          fail(new Error(`worker ${w} exited with ${code ?? signal}`));
          return;
        }
        if (++exited === n && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve(results);
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------
// Log inspection

interface LoggedCommit {
  version: number;
  adds: string[];
  txns: Array<{ appId: string; version: number }>;
  readVersion: number | undefined;
}

function readLog(dir: string): { commits: LoggedCommit[]; versions: number[]; logFiles: string[] } {
  const logDir = path.join(dir, '_delta_log');
  const logFiles = fs.readdirSync(logDir).sort();
  const versions = logFiles
    .filter((f) => /^\d{20}\.json$/.test(f))
    .map((f) => Number(f.slice(0, 20)))
    .sort((a, b) => a - b);
  const commits = versions.map((version) => {
    const file = path.join(logDir, `${String(version).padStart(20, '0')}.json`);
    const actions = parseCommit(fs.readFileSync(file, 'utf8'), file);
    const c: LoggedCommit = { version, adds: [], txns: [], readVersion: undefined };
    for (const a of actions) {
      if ('add' in a) c.adds.push(a.add.path);
      else if ('txn' in a) c.txns.push({ appId: a.txn.appId, version: a.txn.version });
      else if ('commitInfo' in a) c.readVersion = a.commitInfo.readVersion as number | undefined;
    }
    return c;
  });
  return { commits, versions, logFiles };
}

/** Data files on disk (relative paths), excluding the log. */
function dataFilesOnDisk(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (r !== '_delta_log') walk(r);
      } else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

const PY_SUMMARY = `${PY_PRELUDE}
import pyarrow as pa
from deltalake import DeltaTable
uri = sys.argv[1]
app_ids = json.loads(sys.argv[2])
dt = DeltaTable(uri)
t = dt.to_pyarrow_table(columns=['id'])
ids = t.column('id').to_pylist()
emit({'version': dt.version(), 'rows': t.num_rows, 'distinctIds': len(set(ids)), 'count': dt.count(),
      'files': len(dt.file_uris()), 'txns': {a: dt.transaction_version(a) for a in app_ids}})
`;

// ---------------------------------------------------------------------------

describe('concurrent writers (separate processes)', () => {
  it('N=4 processes x K=8 commits: every commit lands exactly once', async (t) => {
    const N = 4,
      K = 8,
      R = 25;
    const dir = tempTable('n-writers');
    await DeltaTable.create(new LocalObjectStore(dir), { schema: SCHEMA, name: 'concurrent' });
    const appIds = Array.from({ length: N }, (_, w) => `writer-${w}`);

    // Meanwhile, a reader keeps loading fresh snapshots: each one must be
    // consistent (rows == version * R, txn versions account for every commit).
    let writersDone = false;
    const observed: Array<{ version: number; rows: number; txnCommits: number; checkpoint: number | null }> = [];
    const readerErrors: string[] = [];
    const reader = (async () => {
      while (!writersDone) {
        try {
          const snap = await loadSnapshot(new LocalObjectStore(dir));
          const rows = (await readAllRows(snap)).length;
          const txnCommits = appIds.reduce((s, a) => s + (snap.txnVersion(a) ?? -1) + 1, 0);
          observed.push({ version: snap.version, rows, txnCommits, checkpoint: snap.checkpointVersion });
        } catch (err) {
          readerErrors.push(String((err as Error)?.stack ?? err));
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    let results: ResultEvent[][];
    try {
      results = await runWorkers(dir, appIds, K, R);
    } finally {
      writersDone = true;
      await reader;
    }
    assert.deepEqual(readerErrors, [], 'a concurrent reader never fails');
    for (const o of observed) {
      assert.equal(o.rows, o.version * R, `snapshot at version ${o.version} has ${o.rows} rows`);
      assert.equal(
        o.txnCommits,
        o.version,
        `snapshot at version ${o.version} accounts for ${o.txnCommits} txn commits`,
      );
    }
    t.diagnostic(
      `concurrent reader loaded ${observed.length} consistent snapshots; versions seen: ${[...new Set(observed.map((o) => o.version))].join(',')}`,
    );

    // every worker got K committed results, in order, with increasing versions
    const reported = new Map<number, ResultEvent>();
    let lostRaces = 0;
    for (let w = 0; w < N; w++) {
      assert.equal(results[w].length, K, `worker ${w} reported ${results[w].length} results`);
      results[w].forEach((r, k) => {
        assert.equal(r.kind, 'committed', `worker ${w} commit ${k}: ${JSON.stringify(r)}`);
        assert.equal(r.round, k);
        assert.equal(r.rows, R);
        assert.equal(r.checkpointError, null, `worker ${w} commit ${k} checkpoint error: ${r.checkpointError}`);
        if (k > 0) assert.ok(r.version > results[w][k - 1].version, `worker ${w} versions increase`);
        assert.ok(
          !reported.has(r.version),
          `version ${r.version} reported by two commits: ${JSON.stringify([reported.get(r.version), r])}`,
        );
        reported.set(r.version, r);
        lostRaces += (r.attempts ?? 1) - 1;
      });
    }
    const total = N * K;
    assert.deepEqual(
      [...reported.keys()].sort((a, b) => a - b),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    // The lock-step release makes writers race for the same versions; the test is only meaningful if they did.
    t.diagnostic(`lost put-if-absent races (retries): ${lostRaces}`);
    assert.ok(lostRaces > 0, 'writers raced at least once (commits retried after losing put-if-absent)');

    // the log: versions 0..N*K contiguous, one commit JSON each, nothing else but checkpoints
    const { commits, versions, logFiles } = readLog(dir);
    assert.deepEqual(
      versions,
      Array.from({ length: total + 1 }, (_, i) => i),
    );
    const unexpected = logFiles.filter(
      (f) => !/^\d{20}\.json$/.test(f) && !/^\d{20}\.checkpoint\.parquet$/.test(f) && f !== '_last_checkpoint',
    );
    assert.deepEqual(unexpected, [], 'no temporary or stray files left in _delta_log');
    for (const v of [10, 20, 30]) {
      assert.ok(logFiles.includes(`${String(v).padStart(20, '0')}.checkpoint.parquet`), `checkpoint ${v} written`);
    }

    // each commit carries exactly one txn; (appId, version) pairs are exactly writer-w x 0..K-1
    const seenTxn = new Set<string>();
    const allAdds: string[] = [];
    for (const c of commits.slice(1)) {
      assert.equal(c.txns.length, 1, `commit ${c.version} has one txn: ${JSON.stringify(c.txns)}`);
      const t = c.txns[0];
      const key = `${t.appId}@${t.version}`;
      assert.ok(!seenTxn.has(key), `txn ${key} committed twice`);
      seenTxn.add(key);
      const w = appIds.indexOf(t.appId);
      assert.ok(w >= 0, `unknown appId ${t.appId}`);
      const r = results[w][t.version];
      assert.equal(r.version, c.version, `${key} landed at the version its writer reported`);
      assert.deepEqual([...c.adds].sort(), [...r.files!].sort(), `commit ${c.version} adds the files its writer wrote`);
      assert.ok(
        c.readVersion !== undefined && c.readVersion < c.version,
        `commit ${c.version} readVersion ${c.readVersion}`,
      );
      allAdds.push(...c.adds);
    }
    assert.equal(seenTxn.size, total);
    assert.equal(new Set(allAdds).size, allAdds.length, 'no data file is referenced by two adds');
    // no orphans: every data file on disk is referenced, and every referenced file exists
    assert.deepEqual(dataFilesOnDisk(dir), allAdds.map(decodeFilePath).sort());

    // the final snapshot
    const snap = (await DeltaTable.open(new LocalObjectStore(dir))).snapshot;
    assert.equal(snap.version, total);
    assert.equal(snap.checkpointVersion, 30);
    for (const a of appIds) assert.equal(snap.txnVersion(a), K - 1, `txn version of ${a}`);
    assert.equal(snap.files().length, allAdds.length);
    assert.equal(
      snap.files().reduce((s, f) => s + (numRecords(f.stats) ?? 0), 0),
      total * R,
    );
    const rows = await readAllRows(snap);
    assert.equal(rows.length, total * R);
    const keys = new Set(rows.map((r) => `${r.worker}/${r.seq}/${r.id}`));
    assert.equal(keys.size, total * R, 'every row exactly once');
    for (let w = 0; w < N; w++) {
      for (let k = 0; k < K; k++) {
        assert.equal(rows.filter((r) => r.worker === w && r.seq === k).length, R, `rows of worker ${w} commit ${k}`);
      }
    }

    // delta-rs agrees
    const py = runPython(PY_SUMMARY, [dir, JSON.stringify(appIds)]);
    assert.equal(py.version, total);
    assert.equal(py.rows, total * R);
    assert.equal(py.distinctIds, total * R);
    assert.equal(py.count, total * R);
    assert.equal(py.files, allAdds.length);
    assert.deepEqual(py.txns, Object.fromEntries(appIds.map((a) => [a, K - 1])));
  });

  it('two processes with the SAME txn appId: per txn version exactly one commit lands, the other gets a conflict', async (t) => {
    const ROUNDS = 6,
      R = 10;
    const dir = tempTable('same-app-processes');
    await DeltaTable.create(new LocalObjectStore(dir), { schema: SCHEMA });
    const results = await runWorkers(dir, ['shared-app', 'shared-app'], ROUNDS, R);

    for (let k = 0; k < ROUNDS; k++) {
      const round = [results[0][k], results[1][k]];
      assert.ok(
        round.every((r) => r !== undefined && r.round === k),
        `both workers reported round ${k}`,
      );
      const committed = round.filter((r) => r.kind === 'committed');
      const conflicts = round.filter((r) => r.kind === 'conflict');
      assert.equal(committed.length, 1, `round ${k}: exactly one commit lands: ${JSON.stringify(round)}`);
      assert.equal(conflicts.length, 1, `round ${k}: the other gets a conflict: ${JSON.stringify(round)}`);
      assert.ok(
        conflicts[0].winningTxns!.some((t) => t.appId === 'shared-app' && t.version >= k),
        `round ${k} conflict names the winning txn: ${JSON.stringify(conflicts[0])}`,
      );
      assert.equal(committed[0].version, k + 1);
    }

    const reasons = results
      .flat()
      .filter((r) => r.kind === 'conflict')
      .map((r) => r.reason!);
    t.diagnostic(
      `conflicts found at commit (lost the put-if-absent race): ${reasons.filter((r) => /concurrent commit/.test(r)).length}; ` +
        `found up front (winner already visible): ${reasons.filter((r) => /already at version/.test(r)).length}`,
    );

    const { commits, versions } = readLog(dir);
    assert.deepEqual(
      versions,
      Array.from({ length: ROUNDS + 1 }, (_, i) => i),
    );
    assert.deepEqual(
      commits.slice(1).map((c) => c.txns),
      Array.from({ length: ROUNDS }, (_, k) => [{ appId: 'shared-app', version: k }]),
    );
    const allAdds = commits.flatMap((c) => c.adds);
    // the losers' data files were cleaned up
    assert.deepEqual(dataFilesOnDisk(dir), allAdds.map(decodeFilePath).sort());
    const snap = (await DeltaTable.open(new LocalObjectStore(dir))).snapshot;
    assert.equal(snap.txnVersion('shared-app'), ROUNDS - 1);
    assert.equal((await readAllRows(snap)).length, ROUNDS * R);
    const py = runPython(PY_SUMMARY, [dir, JSON.stringify(['shared-app'])]);
    assert.equal(py.rows, ROUNDS * R);
    assert.deepEqual(py.txns, { 'shared-app': ROUNDS - 1 });
  });
});

// ---------------------------------------------------------------------------
// In-process, deterministic races: a gate holds commit writes until every
// writer has reached its commit, so all of them planned on the same snapshot
// and race for the same version.

class Gate {
  private parties = 0;
  private waiting: Array<() => void> = [];
  arm(parties: number): void {
    this.parties = parties;
    this.waiting = [];
  }
  async pass(): Promise<void> {
    if (this.parties === 0) return;
    await new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      if (this.waiting.length === this.parties) {
        this.parties = 0;
        for (const r of this.waiting) r();
      }
    });
  }
}

class GatedStore implements ObjectStore {
  readonly inner: LocalObjectStore;
  readonly gate: Gate;
  readonly url: string;
  constructor(inner: LocalObjectStore, gate: Gate) {
    this.inner = inner;
    this.gate = gate;
    this.url = inner.url;
  }
  get(p: string): Promise<Uint8Array> {
    return this.inner.get(p);
  }
  getRange(p: string, start: number, end: number): Promise<Uint8Array> {
    return this.inner.getRange(p, start, end);
  }
  head(p: string): Promise<ObjectMeta | null> {
    return this.inner.head(p);
  }
  list(prefix: string, options?: ListOptions): Promise<ObjectMeta[]> {
    return this.inner.list(prefix, options);
  }
  put(p: string, data: Uint8Array): Promise<void> {
    return this.inner.put(p, data);
  }
  delete(p: string): Promise<void> {
    return this.inner.delete(p);
  }
  async putIfAbsent(p: string, data: Uint8Array): Promise<boolean> {
    if (/^_delta_log\/\d{20}\.json$/.test(p)) await this.gate.pass();
    return this.inner.putIfAbsent(p, data);
  }
}

describe('concurrent writers (in-process, deterministic races)', () => {
  it('same txn appId and version: exactly one commit lands, the other gets a conflict value naming the winner', async () => {
    const dir = tempTable('same-app-gated');
    await DeltaTable.create(new LocalObjectStore(dir), { schema: SCHEMA });
    const gate = new Gate();
    const a = await DeltaTable.open(new GatedStore(new LocalObjectStore(dir), gate));
    const b = await DeltaTable.open(new GatedStore(new LocalObjectStore(dir), gate));
    const rows = (w: number, k: number) =>
      Array.from({ length: 5 }, (_, j) => ({
        id: BigInt(w * 1000 + k * 10 + j),
        worker: w,
        seq: k,
        payload: `${w}/${k}/${j}`,
      }));
    for (let k = 0; k < 4; k++) {
      gate.arm(2);
      const [ra, rb] = await Promise.all([
        a.appendRows(rows(0, k), { txns: [{ appId: 'shared', version: k }] }),
        b.appendRows(rows(1, k), { txns: [{ appId: 'shared', version: k }] }),
      ]);
      const both = [ra, rb];
      const won = both.filter((r) => r.kind === 'committed');
      const lost = both.filter((r) => r.kind === 'conflict');
      assert.equal(
        won.length,
        1,
        `round ${k}: ${JSON.stringify(both, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
      assert.equal(lost.length, 1);
      const w = won[0],
        l = lost[0];
      assert.ok(w.kind === 'committed' && l.kind === 'conflict');
      assert.equal(w.version, k + 1);
      assert.equal(w.attempts, 1);
      // the loser lost the put-if-absent race for the same version and saw the winner's txn
      assert.equal(l.version, k + 1);
      assert.deepEqual(
        l.winningTxns.map((t) => ({ appId: t.appId, version: t.version })),
        [{ appId: 'shared', version: k }],
      );
      assert.match(l.reason, /shared/);
    }
    const { commits, versions } = readLog(dir);
    assert.deepEqual(versions, [0, 1, 2, 3, 4]);
    assert.deepEqual(
      commits.slice(1).map((c) => c.txns),
      [0, 1, 2, 3].map((k) => [{ appId: 'shared', version: k }]),
    );
    assert.deepEqual(
      dataFilesOnDisk(dir),
      commits
        .flatMap((c) => c.adds)
        .map(decodeFilePath)
        .sort(),
      "the losers' data files were deleted",
    );
    const snap = (await DeltaTable.open(new LocalObjectStore(dir))).snapshot;
    assert.equal(snap.txnVersion('shared'), 3);
    assert.equal((await readAllRows(snap)).length, 4 * 5);

    // a stale writer retrying an already committed txn version is refused up front (no files written)
    const before = dataFilesOnDisk(dir);
    const stale = await a.appendRows(rows(0, 9), { txns: [{ appId: 'shared', version: 2 }] });
    assert.equal(stale.kind, 'conflict');
    assert.deepEqual(dataFilesOnDisk(dir), before);
  });

  it('racing openOrCreate: one writer creates the table, the others open it', async () => {
    const dir = tempTable('create-race');
    const gate = new Gate();
    gate.arm(4);
    const tables = await Promise.all(
      [0, 1, 2, 3].map(() =>
        DeltaTable.openOrCreate(new GatedStore(new LocalObjectStore(dir), gate), { schema: SCHEMA }),
      ),
    );
    assert.deepEqual(
      tables.map((t) => t.version),
      [0, 0, 0, 0],
    );
    assert.equal(new Set(tables.map((t) => t.snapshot.metadata.id)).size, 1, 'all writers see the same table id');
    assert.deepEqual(readLog(dir).versions, [0]);
    const res = await Promise.all(
      tables.map((t, w) =>
        t.appendRows([{ id: BigInt(w), worker: w, seq: 0, payload: 'x' }], { txns: [{ appId: `c-${w}`, version: 0 }] }),
      ),
    );
    assert.ok(res.every((r) => r.kind === 'committed'));
    assert.deepEqual(readLog(dir).versions, [0, 1, 2, 3, 4]);
  });

  it('distinct appIds racing for the same version: the loser retries and both land', async () => {
    const dir = tempTable('distinct-apps-gated');
    await DeltaTable.create(new LocalObjectStore(dir), { schema: SCHEMA });
    const gate = new Gate();
    const writers = await Promise.all(
      [0, 1, 2].map(() => DeltaTable.open(new GatedStore(new LocalObjectStore(dir), gate))),
    );
    for (let k = 0; k < 3; k++) {
      gate.arm(3);
      const res = await Promise.all(
        writers.map((t, w) =>
          t.appendRows([{ id: BigInt(w * 100 + k), worker: w, seq: k, payload: null }], {
            txns: [{ appId: `app-${w}`, version: k }],
          }),
        ),
      );
      assert.ok(
        res.every((r) => r.kind === 'committed'),
        JSON.stringify(res.map((r) => r.kind)),
      );
      const versions = res.map((r) => (r.kind === 'committed' ? r.version : -1)).sort((x, y) => x - y);
      assert.deepEqual(versions, [3 * k + 1, 3 * k + 2, 3 * k + 3]);
      const attempts = res.map((r) => (r.kind === 'committed' ? r.attempts : 0)).sort();
      assert.deepEqual(attempts, [1, 2, 3], 'all three raced for the same version; losers retried');
    }
    const snap = (await DeltaTable.open(new LocalObjectStore(dir))).snapshot;
    assert.equal(snap.version, 9);
    for (let w = 0; w < 3; w++) assert.equal(snap.txnVersion(`app-${w}`), 2);
    assert.equal((await readAllRows(snap)).length, 9);
    const py = runPython(PY_SUMMARY, [dir, JSON.stringify(['app-0', 'app-1', 'app-2'])]);
    assert.deepEqual(
      { version: py.version, rows: py.rows, txns: py.txns },
      { version: 9, rows: 9, txns: { 'app-0': 2, 'app-1': 2, 'app-2': 2 } },
    );
  });
});
