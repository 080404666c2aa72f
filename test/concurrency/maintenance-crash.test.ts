/**
 * kill -9 during a compaction, then the usual life of the table: its rows are
 * exact (none lost, none doubled), delta-rs reads it, compaction runs again,
 * and a full vacuum removes the files the killed compaction left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { optimizeTable } from '../../src/delta/optimize.ts';
import { readAllRows } from '../../src/delta/scan.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { vacuum } from '../../src/delta/vacuum.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-crash-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const ids = async (store: LocalObjectStore) =>
  (await readAllRows(await loadSnapshot(store))).map((r) => Number(r.id)).sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('kill -9 during maintenance', () => {
  it('a compaction killed between its uploads and its commit leaves only unreferenced files', async () => {
    const store = new LocalObjectStore(dir);
    const table = await DeltaTable.create(store, {
      schema: struct([field('id', 'long', false), field('text', 'string')]),
    });
    // Files of ~5 KiB, bins of 16 KiB: the compaction uploads several files before its commit.
    for (let i = 0; i < 40; i++) {
      await table.appendRows([{ id: BigInt(i), text: `${i}`.repeat(4000) }], { txns: [{ appId: 'app', version: i }] });
    }
    const dataFiles = () => fs.readdirSync(dir).filter((f) => f.endsWith('.parquet'));
    const before = dataFiles().length;
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'optimize-worker.ts'), dir, '300'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (/uploaded 3\n/.test(out)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`worker ended before the kill: ${out}`)));
    });
    await new Promise((r) => child.on('exit', r));
    assert.doesNotMatch(out, /done/, 'killed before its commit');
    assert.equal(dataFiles().length, before + 3, 'three uploaded files, referenced by no version');
    assert.deepEqual(await ids(store), range(40), 'rows exact after the kill');
    assert.equal((await loadSnapshot(store)).txnVersion('app'), 39);
    const py = runPython(
      `${PY_PRELUDE}
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1])
emit(sorted(t.to_pyarrow_table(columns=['id']).column('id').to_pylist()))
`,
      [dir],
    );
    assert.deepEqual(py, range(40), 'delta-rs reads the same rows');
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
});
