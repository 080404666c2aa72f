/**
 * Compaction (src/delta/optimize.ts): the pure plan, then rewrites on real
 * tables: rows and txns preserved, `dataChange: false`, time travel to the
 * versions before it, a concurrent blind append retried past, and a
 * concurrent compaction of the same files returned as a conflict with our
 * files deleted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Add } from '../../src/delta/actions.ts';
import { parseCommit } from '../../src/delta/actions.ts';
import { commitPath } from '../../src/delta/log-path.ts';
import {
  compactionSettings,
  needsCompaction,
  optimizeTable,
  planCompaction,
  sizeTier,
} from '../../src/delta/optimize.ts';
import { readAllRows } from '../../src/delta/scan.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { MemoryObjectStore } from '../../src/storage/memory.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const settings = compactionSettings(() => undefined, { minFiles: 3, tiered: true });

const file = (path: string, size: number, part: string | null = null, t = 0): Add => ({
  path,
  size,
  partitionValues: part === null ? {} : { p: part },
  modificationTime: t,
  dataChange: true,
});

describe('planCompaction (pure)', () => {
  it('bins small files per partition and size tier, oldest first, and leaves large files alone', () => {
    const files = [
      file('a1', 2 * KiB, 'a', 3),
      file('a2', 3 * KiB, 'a', 1),
      file('a3', 4 * KiB, 'a', 2),
      file('a-big', 40 * MiB, 'a'),
      file('b1', 2 * KiB, 'b'),
      file('b2', 2 * KiB, 'b'),
    ];
    const bins = planCompaction(files, ['p'], settings);
    assert.deepEqual(
      bins.map((b) => [b.partition, b.files.map((f) => f.path)]),
      [['["a"]', ['a2', 'a3', 'a1']]],
      'partition b has 2 small files, below minFiles 3; the 40 MiB file is not small',
    );
  });

  it('keeps size tiers apart when tiered, and skips bins of one file', () => {
    const files = [...[1, 2, 3].map((i) => file(`tiny${i}`, 10 * KiB, null, i)), file('mid', 200 * KiB, null, 9)];
    assert.equal(sizeTier(10 * KiB), 0);
    assert.equal(sizeTier(200 * KiB), 1);
    const bins = planCompaction(files, [], settings);
    assert.deepEqual(
      bins.map((b) => b.files.map((f) => f.path)),
      [['tiny1', 'tiny2', 'tiny3']],
    );
    const untiered = compactionSettings(() => undefined, { minFiles: 3 });
    assert.deepEqual(
      planCompaction(files, [], untiered).map((b) => b.files.map((f) => f.path)),
      [['tiny1', 'tiny2', 'tiny3', 'mid']],
      'by hand (not tiered), every small file of the partition goes together',
    );
  });

  it('caps a bin at the rewrite limit', () => {
    const s = compactionSettings(() => undefined, { minFiles: 2, maxRewriteBytes: 10 * KiB });
    const files = [1, 2, 3, 4, 5].map((i) => file(`f${i}`, 3 * KiB, null, i));
    assert.deepEqual(
      planCompaction(files, [], s).map((b) => b.files.map((f) => f.path)),
      [
        ['f1', 'f2', 'f3'],
        ['f4', 'f5'],
      ],
    );
  });

  it('reads the target size from the table property and says when compaction is due', () => {
    const s = compactionSettings((k) => (k === 'delta.targetFileSize' ? String(8 * KiB) : undefined), {
      minFiles: 2,
    });
    assert.equal(s.targetFileBytes, 8 * KiB);
    assert.equal(needsCompaction([file('x', 5 * KiB), file('y', 5 * KiB)], [], s), true);
    assert.equal(needsCompaction([file('x', 7 * KiB), file('y', 7 * KiB)], [], s), false, '7 KiB is not small');
  });
});

const schema = struct([field('id', 'long', false), field('sub', 'string'), field('score', 'integer')]);

async function smallTable(store: ObjectStore, n: number, partitioned = false) {
  const table = await DeltaTable.create(store, { schema, partitionColumns: partitioned ? ['sub'] : [] });
  for (let i = 0; i < n; i++) {
    const r = await table.appendRows([{ id: BigInt(i), sub: `s${i % 2}`, score: i }], {
      txns: [{ appId: 'app', version: i }],
    });
    assert.equal(r.kind, 'committed');
  }
  return table;
}

const ids = async (store: ObjectStore, version?: number) =>
  (await readAllRows(await loadSnapshot(store, { version }))).map((r) => Number(r.id)).sort((a, b) => a - b);

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('optimizeTable', () => {
  for (const partitioned of [false, true]) {
    it(`rewrites small files into one per partition, rows and txns unchanged (${partitioned ? 'partitioned' : 'plain'})`, async () => {
      const store = new MemoryObjectStore();
      const table = await smallTable(store, 25, partitioned);
      const before = table.version;
      const res = await optimizeTable(table);
      assert.equal(res.kind, 'optimized');
      if (res.kind !== 'optimized') return;
      assert.equal(res.filesRemoved, 25);
      assert.equal(res.filesAdded, partitioned ? 2 : 1);
      assert.equal(res.rows, 25);
      const snap = await loadSnapshot(store);
      assert.equal(snap.files().length, partitioned ? 2 : 1);
      assert.deepEqual(await ids(store), range(25));
      assert.equal(snap.txnVersion('app'), 24, 'the txn is untouched');
      const actions = parseCommit(new TextDecoder().decode(await store.get(commitPath(res.version))), 'optimize');
      const info = actions.find((a) => 'commitInfo' in a);
      assert.equal(info && 'commitInfo' in info && info.commitInfo.operation, 'OPTIMIZE');
      const changes = actions.flatMap((a) =>
        'add' in a ? [a.add.dataChange] : 'remove' in a ? [a.remove.dataChange] : [],
      );
      assert.equal(changes.length, 25 + res.filesAdded);
      assert.ok(
        changes.every((c) => c === false),
        'dataChange: false on every add and remove',
      );
      assert.deepEqual(await ids(store, before), range(25), 'time travel to before the rewrite still reads');
      assert.equal((await optimizeTable(table)).kind, 'nothing to do');
    });
  }

  it('a blind append that lands first is retried past and kept', async () => {
    const base = new MemoryObjectStore();
    await smallTable(base, 10);
    let appended = false;
    const racing = intercept(base, async () => {
      if (appended) return;
      appended = true;
      const other = await DeltaTable.open(base);
      await other.appendRows([{ id: 100n, sub: 'late', score: 0 }]);
    });
    const res = await optimizeTable(await DeltaTable.open(racing));
    assert.equal(res.kind, 'optimized');
    assert.ok(appended);
    assert.deepEqual(await ids(base), [...range(10), 100]);
    assert.equal((await loadSnapshot(base)).files().length, 2, 'the rewritten file and the appended one');
  });

  it('a concurrent compaction of the same files is a conflict value, and our files are deleted', async () => {
    const base = new MemoryObjectStore();
    await smallTable(base, 10);
    let raced = false;
    const racing = intercept(base, async () => {
      if (raced) return;
      raced = true;
      assert.equal((await optimizeTable(await DeltaTable.open(base))).kind, 'optimized');
    });
    const res = await optimizeTable(await DeltaTable.open(racing));
    assert.equal(res.kind, 'conflict');
    assert.deepEqual(await ids(base), range(10));
    const snap = await loadSnapshot(base);
    const dataFiles = (await base.list('')).filter((o) => !o.path.startsWith('_delta_log/'));
    assert.equal(dataFiles.length, 10 + 1, 'the 10 originals (removed, kept for time travel) and the winner’s file');
    assert.equal(snap.files().length, 1);
  });
});

/** A store over `base` that runs `before` ahead of each data file upload (a concurrent writer's moment). */
function intercept(base: MemoryObjectStore, before: () => Promise<void>): ObjectStore {
  return new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (path: string, data: Uint8Array) => {
          if (!path.startsWith('_delta_log/')) await before();
          return target.put(path, data);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
