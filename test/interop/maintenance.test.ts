/**
 * Table maintenance against delta-rs: delta-rs reads a table after our
 * compaction (rows, history, time travel to before it), and we read a table
 * of ours after delta-rs ran its own `optimize.compact()` on it; the same
 * for vacuum and expired log cleanup.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { optimizeTable } from '../../src/delta/optimize.ts';
import { cleanUpExpiredLogs } from '../../src/delta/log-cleanup.ts';
import { vacuum } from '../../src/delta/vacuum.ts';
import { readAllRows } from '../../src/delta/scan.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

const DAY = 86_400_000;
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const schema = struct([field('id', 'long', false), field('sub', 'string'), field('score', 'integer')]);

/** A table of `n` one-row appends, partitioned by `sub` when asked. */
async function smallTable(n: number, partitioned: boolean) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-maint-'));
  dirs.push(dir);
  const table = await DeltaTable.create(new LocalObjectStore(dir), {
    schema,
    partitionColumns: partitioned ? ['sub'] : [],
  });
  for (let i = 0; i < n; i++) {
    await table.appendRows([{ id: BigInt(i), sub: `s${i % 3}`, score: i }], { txns: [{ appId: 'app', version: i }] });
  }
  return { dir, table };
}

const READ = `${PY_PRELUDE}
from deltalake import DeltaTable
uri, version = sys.argv[1], json.loads(sys.argv[2])
t = DeltaTable(uri) if version is None else DeltaTable(uri, version=version)
ids = sorted(t.to_pyarrow_table(columns=['id']).column('id').to_pylist())
ops = [h.get('operation') for h in DeltaTable(uri).history()]
emit({'ids': ids, 'files': len(t.file_uris()), 'version': t.version(), 'ops': ops,
      'txn': DeltaTable(uri).transaction_version('app')})
`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('maintenance interop with delta-rs', () => {
  for (const partitioned of [false, true]) {
    it(`delta-rs reads our compaction and the versions before it (${partitioned ? 'partitioned' : 'plain'})`, async () => {
      const { dir, table } = await smallTable(24, partitioned);
      const before = table.version;
      const res = await optimizeTable(table);
      assert.equal(res.kind, 'optimized');
      const now = runPython(READ, [dir, 'null']);
      assert.deepEqual(now.ids, range(24));
      assert.equal(now.files, partitioned ? 3 : 1);
      assert.equal(now.ops[0], 'OPTIMIZE', 'history shows the compaction, newest first');
      assert.equal(now.txn, 23, 'the txn is untouched');
      const old = runPython(READ, [dir, String(before)]);
      assert.deepEqual(old.ids, range(24));
      assert.equal(old.files, 24);
    });
  }

  it("we read a table of ours after delta-rs's own compaction", async () => {
    const { dir } = await smallTable(15, true);
    const out = runPython(
      `${PY_PRELUDE}
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1])
m = t.optimize.compact()
emit({'removed': m['numFilesRemoved'], 'added': m['numFilesAdded']})
`,
      [dir],
    );
    assert.equal(out.removed, 15);
    const snap = await loadSnapshot(new LocalObjectStore(dir));
    assert.equal(snap.files().length, out.added);
    const rows = await readAllRows(snap);
    assert.deepEqual(
      rows.map((r) => Number(r.id)).sort((a, b) => a - b),
      range(15),
    );
    assert.equal(snap.txnVersion('app'), 14);
    // And our compaction on top finds nothing left to do.
    assert.equal((await optimizeTable(await DeltaTable.open(new LocalObjectStore(dir)))).kind, 'nothing to do');
  });

  it('delta-rs reads a table after our vacuum and log cleanup, time travel inside the kept range included', async () => {
    const { dir, table } = await smallTable(25, false);
    assert.equal((await optimizeTable(table)).kind, 'optimized');
    const log = path.join(dir, '_delta_log');
    const old = new Date(Date.now() - 40 * DAY);
    for (const f of fs.readdirSync(log)) {
      if (Number(f.slice(0, 20)) <= 20) fs.utimesSync(path.join(log, f), old, old);
    }
    const store = new LocalObjectStore(dir);
    const cleaned = await cleanUpExpiredLogs(store, table.snapshot.metadata.configuration);
    assert.equal(cleaned.checkpointVersion, 20);
    const vac = await vacuum(await loadSnapshot(store), store, { now: Date.now() + 8 * DAY });
    assert.equal(vac.files.length, 25);
    const now = runPython(READ, [dir, 'null']);
    assert.deepEqual(now.ids, range(25));
    assert.equal(now.txn, 24);
    // Version 20 still rebuilds from its checkpoint; its files were vacuumed, so only the log is read.
    const v20 = runPython(
      `${PY_PRELUDE}
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1], version=20)
emit({'version': t.version(), 'files': len(t.file_uris())})
`,
      [dir],
    );
    assert.deepEqual(v20, { version: 20, files: 20 });
  });

  it("we read a table of ours after delta-rs's own vacuum", async () => {
    const { dir, table } = await smallTable(12, true);
    assert.equal((await optimizeTable(table)).kind, 'optimized');
    const out = runPython(
      `${PY_PRELUDE}
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1])
gone = t.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
emit({'deleted': len(gone)})
`,
      [dir],
    );
    assert.equal(out.deleted, 12);
    const rows = await readAllRows(await loadSnapshot(new LocalObjectStore(dir)));
    assert.deepEqual(
      rows.map((r) => Number(r.id)).sort((a, b) => a - b),
      range(12),
    );
  });
});
