import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hyparquetFooter } from '../helpers/parquet.ts';
import { parseCommit } from '../../src/delta/actions.ts';
import { commitPath } from '../../src/delta/log-path.ts';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { encodeDataFiles } from '../../src/delta/data-files.ts';
import { encodeColumns } from '../../src/parquet/write.ts';
import { commit, findConflict } from '../../src/delta/transaction.ts';
import { canonicalJson } from '../../src/delta/values.ts';
import { MemoryObjectStore } from '../../src/storage/memory.ts';

const schema = struct([
  field('id', 'long', false),
  field('sub', 'string'),
  field('day', 'date'),
  field('score', 'integer'),
  field('ratio', 'double'),
  field('created', 'timestamp'),
  field('price', { kind: 'decimal', precision: 12, scale: 2 }),
  field('flag', 'boolean'),
  field('raw', 'binary'),
  field(
    'meta',
    struct([
      field('k', 'string'),
      field('tags', { kind: 'array', elementType: { kind: 'primitive', name: 'string' }, containsNull: true }),
    ]),
  ),
  field('counts', {
    kind: 'map',
    keyType: { kind: 'primitive', name: 'string' },
    valueType: { kind: 'primitive', name: 'long' },
    valueContainsNull: true,
  }),
]);

const row = (i: number) => ({
  id: BigInt(i),
  sub: i % 3 === 0 ? null : `sub/${i % 3} é😀`,
  day: i % 2 === 0 ? 19000 : null,
  score: i * 7 - 50,
  ratio: i / 3,
  created: 1_700_000_000_000_000n + BigInt(i),
  price: `${i}.25`,
  flag: i % 2 === 0,
  raw: new Uint8Array([i & 255, 0]),
  meta: i % 4 === 0 ? null : { k: `k${i}`, tags: ['a', null, `t${i}`] },
  counts: [
    ['x', BigInt(i)],
    ['y', null],
  ] as [string, bigint | null][],
});

describe('DeltaTable writer', () => {
  it('round-trips every type through a partitioned table', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, { schema, partitionColumns: ['sub', 'day'] });
    const rows = Array.from({ length: 30 }, (_, i) => row(i));
    const res = await t.appendRows(rows);
    assert.equal(res.kind, 'committed');
    const snap = await loadSnapshot(store);
    assert.equal(snap.version, 1);
    // 3 sub values x 2 day values = 6 partition directories
    assert.equal(snap.files().length, 6);
    for (const f of snap.files()) {
      assert.ok(
        decodeURIComponent(f.path).startsWith(
          `sub=${f.partitionValues.sub === null ? '__HIVE_DEFAULT_PARTITION__' : 'sub%2F'}`,
        ),
        f.path,
      );
      const stats = JSON.parse(f.stats!);
      assert.equal(typeof stats.numRecords, 'number');
      // partition columns are not stored in data files
      const footer = await hyparquetFooter(store, decodeURIComponent(f.path));
      assert.ok(!footer.columns.includes('sub') && !footer.columns.includes('day'));
      assert.equal(footer.numRows, stats.numRecords);
    }
    const back = await readAllRows(snap);
    const canon = (rs: any[]) => rs.map((r) => canonicalJson(r, schema)).sort();
    assert.deepEqual(canon(back), canon(rows));
  });

  it('records txn versions atomically and refuses a stale txn as a conflict value', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, { schema });
    assert.equal(
      (
        await t.appendRows([row(1)], {
          txns: [
            { appId: 'g-t-0', version: 10 },
            { appId: 'g-t-1', version: 4 },
          ],
        })
      ).kind,
      'committed',
    );
    const snap = await loadSnapshot(store);
    assert.equal(snap.txnVersion('g-t-0'), 10);
    assert.equal(snap.txnVersion('g-t-1'), 4);
    const again = await t.appendRows([row(2)], { txns: [{ appId: 'g-t-0', version: 10 }] });
    assert.equal(again.kind, 'conflict');
    assert.equal((await readAllRows(await loadSnapshot(store))).length, 1);
    // the data files of the refused append were never written
    assert.equal((await store.list('')).filter((m) => m.path.endsWith('.parquet')).length, 1);
  });

  it('writes a checkpoint every delta.checkpointInterval commits and reads from it', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, {
      schema: struct([field('n', 'long')]),
      configuration: { 'delta.checkpointInterval': '5' },
    });
    for (let i = 0; i < 12; i++) await t.appendRows([{ n: BigInt(i) }], { txns: [{ appId: 'app', version: i }] });
    assert.ok(await store.head('_delta_log/00000000000000000005.checkpoint.parquet'));
    assert.ok(await store.head('_delta_log/00000000000000000010.checkpoint.parquet'));
    assert.equal(JSON.parse(new TextDecoder().decode(await store.get('_delta_log/_last_checkpoint'))).version, 10);
    // Remove early commits: the table must still load from the checkpoint.
    for (let v = 0; v <= 9; v++) await store.delete(commitPath(v));
    const snap = await loadSnapshot(store);
    assert.equal(snap.checkpointVersion, 10);
    assert.equal(snap.version, 12);
    assert.equal(snap.txnVersion('app'), 11);
    assert.deepEqual(
      (await readAllRows(snap)).map((r) => r.n).sort((a: any, b: any) => Number(a - b)),
      Array.from({ length: 12 }, (_, i) => BigInt(i)),
    );
  });

  it('evolves the schema by adding nullable columns; old files read as null', async () => {
    const store = new MemoryObjectStore();
    const v1 = struct([field('id', 'long')]);
    const v2 = struct([field('id', 'long'), field('title', 'string')]);
    const t = await DeltaTable.create(store, { schema: v1 });
    await t.appendRows([{ id: 1n }]);
    const res = await t.appendRows([{ id: 2n, title: 'hello' }], { schema: v2 });
    assert.equal(res.kind, 'committed');
    const snap = await loadSnapshot(store);
    assert.deepEqual(
      snap.schema.fields.map((f) => f.name),
      ['id', 'title'],
    );
    const rows = (await readAllRows(snap)).sort((a: any, b: any) => Number(a.id - b.id));
    assert.deepEqual(rows, [
      { id: 1n, title: null },
      { id: 2n, title: 'hello' },
    ]);
    // v1 still has the old schema
    assert.deepEqual(
      (await loadSnapshot(store, { version: 1 })).schema.fields.map((f) => f.name),
      ['id'],
    );
    await assert.rejects(
      t.appendRows([{ id: 3n }], { schema: struct([field('id', 'string')]) }),
      /has type long in the table but string/,
    );
    await assert.rejects(
      t.appendRows([{ id: 3n }], { schema: struct([field('id', 'long'), field('x', 'long', false)]) }),
      /must be nullable/,
    );
  });

  it('rejects values that do not fit the schema with a clear error', async () => {
    const t = await DeltaTable.create(new MemoryObjectStore(), {
      schema: struct([field('id', 'long', false), field('n', 'integer')]),
    });
    await assert.rejects(t.appendRows([{ id: null }]), /not nullable/);
    await assert.rejects(t.appendRows([{ id: 1n, n: 1.5 }]), /column n: value 1.5 does not fit/);
    await assert.rejects(t.appendRows([{ id: 1n, n: 2 ** 40 }]), /column n/);
  });

  it('refuses to create a table twice and to partition by unknown columns', async () => {
    const store = new MemoryObjectStore();
    await DeltaTable.create(store, { schema });
    await assert.rejects(DeltaTable.create(store, { schema }), /already exists/);
    await assert.rejects(
      DeltaTable.create(new MemoryObjectStore(), { schema, partitionColumns: ['nope'] }),
      /partition column "nope" is not in the schema/,
    );
    const opened = await DeltaTable.openOrCreate(store, { schema });
    assert.equal(opened.version, 0);
  });
});

describe('commit conflicts', () => {
  it('retries blind appends after a lost race and lands at the next version', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, { schema: struct([field('n', 'long')]) });
    // Another writer lands version 1 first.
    await commit(store, 0, [{ txn: { appId: 'other', version: 1 } }], { operation: 'WRITE' });
    const res = await commit(store, 0, [{ txn: { appId: 'mine', version: 1 } }], { operation: 'WRITE' });
    assert.deepEqual(res, { kind: 'committed', version: 2, attempts: 2 });
    const actions = parseCommit(new TextDecoder().decode(await store.get(commitPath(2))), 'c');
    assert.equal((actions.find((a) => 'commitInfo' in a) as any).commitInfo.readVersion, 0);
    assert.equal(t.version, 0);
  });

  it('returns a conflict value when the winner advanced the same txn app', async () => {
    const store = new MemoryObjectStore();
    await DeltaTable.create(store, { schema: struct([field('n', 'long')]) });
    await commit(store, 0, [{ txn: { appId: 'grp-topic-0', version: 7 } }], {});
    const res = await commit(store, 0, [{ txn: { appId: 'grp-topic-0', version: 5 } }], {});
    assert.equal(res.kind, 'conflict');
    if (res.kind === 'conflict') {
      assert.deepEqual(
        res.winningTxns.map((t) => t.version),
        [7],
      );
    }
    assert.equal(await store.head(commitPath(2)), null);
  });

  it('a commit that landed but was reported as "exists" (a retried PUT whose reply was lost) is committed, its files kept', async () => {
    /** put-if-absent of the next commit lands, then answers false, as an SDK retry of it would (412 on its own object). */
    class LostReplyStore extends MemoryObjectStore {
      armed = false;
      override async putIfAbsent(path: string, data: Uint8Array): Promise<boolean> {
        const ok = await super.putIfAbsent(path, data);
        if (this.armed && ok && path.endsWith('.json')) {
          this.armed = false;
          return false;
        }
        return ok;
      }
    }
    for (const txns of [[{ appId: 'grp-topic-0', version: 41 }], undefined]) {
      const store = new LostReplyStore();
      const t = await DeltaTable.create(store, { schema: struct([field('n', 'long')]) });
      store.armed = true;
      const res = await t.appendRows([{ n: 1n }], { txns });
      assert.equal(res.kind, 'committed', JSON.stringify(res));
      if (res.kind === 'committed') assert.equal(res.version, 1);
      assert.equal(await store.head(commitPath(2)), null, 'not committed a second time');
      const snap = await loadSnapshot(store);
      assert.deepEqual(
        (await readAllRows(snap)).map((r) => r.n),
        [1n],
      );
      if (txns) assert.equal(snap.txnVersion('grp-topic-0'), 41);
    }
  });

  it('findConflict: metadata and protocol changes and double removes conflict; disjoint appends do not', () => {
    const add = { add: { path: 'a', partitionValues: {}, size: 1, modificationTime: 0, dataChange: true } };
    assert.equal(findConflict([add], [add]), null);
    assert.match(
      findConflict(
        [add],
        [
          {
            metaData: {
              id: 'x',
              format: { provider: 'parquet', options: {} },
              schemaString: '{}',
              partitionColumns: [],
              configuration: {},
            },
          },
        ],
      )!.reason,
      /metadata/,
    );
    assert.match(findConflict([add], [{ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }])!.reason, /protocol/);
    const rm = { remove: { path: 'f%201', dataChange: true } };
    assert.match(findConflict([rm], [{ remove: { path: 'f 1', dataChange: true } }])!.reason, /already removed/);
  });
});

describe('binary partition values', () => {
  it('round-trip UTF-8 bytes and refuse bytes that are not valid UTF-8', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, {
      schema: struct([field('id', 'long'), field('bin', 'binary')]),
      partitionColumns: ['bin'],
    });
    await t.appendRows([
      { id: 1n, bin: new TextEncoder().encode('😈') },
      { id: 2n, bin: null },
    ]);
    const rows = (await readAllRows(await loadSnapshot(store))).sort((a: any, b: any) => Number(a.id - b.id));
    assert.deepEqual(rows[0].bin, new TextEncoder().encode('😈'));
    assert.equal(rows[1].bin, null);
    await assert.rejects(t.appendRows([{ id: 3n, bin: new Uint8Array([0xff]) }]), /SCHEMA_MISMATCH|not valid UTF-8/);
  });
});

describe('file sizing', () => {
  it('splits a large append into several files of bounded size, all in one commit', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, { schema: struct([field('id', 'long'), field('text', 'string')]) });
    t.maxFileBytes = 64 * 1024;
    const rows = Array.from({ length: 1000 }, (_, i) => ({ id: BigInt(i), text: 'x'.repeat(500) }));
    const res = await t.appendRows(rows);
    assert.equal(res.kind, 'committed');
    if (res.kind === 'committed') {
      assert.ok(res.files.length >= 7 && res.files.length <= 9, `${res.files.length} files`);
      assert.equal(res.version, 1);
      assert.equal(
        res.files.reduce((s, f) => s + JSON.parse(f.stats!).numRecords, 0),
        1000,
      );
    }
    assert.equal((await readAllRows(await loadSnapshot(store))).length, 1000);
  });
});

describe('appends prepared earlier (spooled, or encoded while the table moved on)', () => {
  it('keep the columns and properties other writers added meanwhile, and add their own', async () => {
    const store = new MemoryObjectStore();
    const s0 = struct([field('id', 'long'), field('a', 'string')]);
    await DeltaTable.create(store, { schema: s0 });
    const mine = await DeltaTable.open(store);
    const other = await DeltaTable.open(store);
    const prep = await mine.prepareAppend(
      { numRows: 1, columns: { id: [1n], a: ['a1'], x: ['x1'] } },
      { schema: struct([...s0.fields, field('x', 'string')]) },
    );
    assert.ok(prep.kind === 'prepared', 'prepared, not a conflict');
    // Meanwhile: another writer adds column y, and a property is set.
    assert.equal(
      (await other.appendRows([{ id: 2n, a: 'a2', y: 'y2' }], { schema: struct([...s0.fields, field('y', 'string')]) }))
        .kind,
      'committed',
    );
    const snap = await other.refresh();
    await commit(
      store,
      snap.version,
      [
        {
          metaData: {
            ...snap.metadata,
            configuration: { ...snap.metadata.configuration, 'delta.logRetentionDuration': 'interval 90 days' },
          },
        },
      ],
      { operation: 'SET TBLPROPERTIES' },
    );
    const res = await mine.commitPrepared(prep);
    assert.equal(res.kind, 'committed');
    const fin = await loadSnapshot(store);
    assert.deepEqual(
      fin.schema.fields.map((f) => f.name),
      ['id', 'a', 'y', 'x'],
    );
    assert.equal(fin.metadata.configuration['delta.logRetentionDuration'], 'interval 90 days');
    const rows = (await readAllRows(fin)).sort((p, q) => Number((p.id as bigint) - (q.id as bigint)));
    assert.deepEqual(rows, [
      { id: 1n, a: 'a1', y: null, x: 'x1' },
      { id: 2n, a: 'a2', y: 'y2', x: null },
    ]);
  });

  it('are refused when the table now needs writer features this writer lacks', async () => {
    const store = new MemoryObjectStore();
    await DeltaTable.create(store, { schema: struct([field('id', 'long')]) });
    const t = await DeltaTable.open(store);
    const prep = await t.prepareAppend({ numRows: 1, columns: { id: [-1n] } });
    assert.ok(prep.kind === 'prepared', 'prepared, not a conflict');
    // Another writer adds a CHECK constraint (writer version 3) the prepared row violates.
    const snap = await (await DeltaTable.open(store)).refresh();
    await commit(
      store,
      snap.version,
      [
        { protocol: { minReaderVersion: 1, minWriterVersion: 3 } },
        {
          metaData: {
            ...snap.metadata,
            configuration: { ...snap.metadata.configuration, 'delta.constraints.positive': 'id > 0' },
          },
        },
      ],
      { operation: 'ADD CONSTRAINT' },
    );
    await assert.rejects(t.commitPrepared(prep), /writerVersion3/);
    assert.equal((await loadSnapshot(store)).version, 1, 'nothing committed');
  });
});

describe('review regressions', () => {
  it('refuses data files given as absolute URIs (shallow clones) with a clear error', async () => {
    const store = new MemoryObjectStore();
    await DeltaTable.create(store, { schema: struct([field('id', 'long')]) });
    await commit(
      store,
      0,
      [
        {
          add: {
            path: 's3://elsewhere/t/part-0.parquet',
            partitionValues: {},
            size: 10,
            modificationTime: 0,
            dataChange: true,
          },
        },
      ],
      { operation: 'WRITE' },
    );
    await assert.rejects(
      readAllRows(await loadSnapshot(store)),
      (e: Error & { code?: string }) => e.code === 'UNSUPPORTED_FEATURE' && /absolute URI/.test(e.message),
    );
  });

  it('refuses decimals that exceed their precision', async () => {
    const t = await DeltaTable.create(new MemoryObjectStore(), {
      schema: struct([field('d', { kind: 'decimal', precision: 5, scale: 2 })]),
    });
    await assert.rejects(t.appendRows([{ d: '123456789.12' }]), /does not fit/);
    assert.equal((await t.appendRows([{ d: '999.99' }, { d: '-0.5' }])).kind, 'committed');
    const stats = JSON.parse(t.snapshot.files()[0].stats!);
    assert.deepEqual([stats.minValues.d, stats.maxValues.d], [-0.5, 999.99]);
  });

  it('reads and writes years 0001-0099 correctly', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, {
      schema: struct([field('id', 'long'), field('d', 'date')]),
      partitionColumns: ['d'],
    });
    await t.appendRows([{ id: 1n, d: -719162 }]); // 0001-01-01
    const rows = await readAllRows(await loadSnapshot(store));
    assert.equal(canonicalJson(rows[0], t.schema), '{"id":1,"d":"0001-01-01"}');
  });

  it('upgrades the protocol when schema evolution adds a timestamp_ntz column', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, { schema: struct([field('id', 'long')]) });
    await t.appendRows([{ id: 1n, ts: 5n }], { schema: struct([field('id', 'long'), field('ts', 'timestamp_ntz')]) });
    const p = (await loadSnapshot(store)).protocol;
    assert.deepEqual(
      [p.minReaderVersion, p.minWriterVersion, p.readerFeatures, p.writerFeatures],
      [3, 7, ['timestampNtz'], ['appendOnly', 'invariants', 'timestampNtz']],
    );
  });

  it('refuses to create a table over a log whose early commits were cleaned up', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, { schema: struct([field('id', 'long')]) });
    await t.appendRows([{ id: 1n }]);
    await store.delete(commitPath(0));
    await assert.rejects(DeltaTable.create(store, { schema: struct([field('x', 'string')]) }), /already exists/);
  });
});

describe('files encoded elsewhere', () => {
  it('encodeDataFiles (pure) + prepareEncodedAppend commit like append: partitions, stats, txn', async () => {
    const store = new MemoryObjectStore();
    const t = await DeltaTable.create(store, { schema, partitionColumns: ['sub'] });
    const rows = Array.from({ length: 12 }, (_, i) => row(i));
    const batch = {
      numRows: rows.length,
      columns: Object.fromEntries(
        schema.fields.map((f) => [f.name, rows.map((r) => (r as Record<string, unknown>)[f.name] ?? null)]),
      ),
    } as any;
    const files = await encodeDataFiles(t.schema, t.snapshot.partitionColumns, batch, {
      ...t.encodeSettings(),
      encode: encodeColumns,
    });
    assert.deepEqual(
      files.map((f) => f.dir).sort(),
      ['sub=__HIVE_DEFAULT_PARTITION__', 'sub=sub%2F1%20%C3%A9%F0%9F%98%80', 'sub=sub%2F2%20%C3%A9%F0%9F%98%80'].sort(),
    );
    assert.equal(
      files.reduce((n, f) => n + f.numRows, 0),
      12,
    );
    const prep = await t.prepareEncodedAppend(files, { txns: [{ appId: 'app', version: 3, expect: null }] });
    assert.ok(prep.kind === 'prepared', 'prepared, not a conflict');
    const res = await t.commitPrepared(prep);
    assert.equal(res.kind, 'committed');
    const snap = await loadSnapshot(store);
    assert.equal(snap.txnVersion('app'), 3);
    assert.deepEqual(
      (await readAllRows(snap)).map((r) => r.id).sort((a, b) => Number(a) - Number(b)),
      rows.map((r) => r.id),
    );
    assert.ok(snap.files().every((f) => JSON.parse(f.stats!).numRecords > 0));
    // a stale expectation is a conflict value, before anything is written
    const again = await t.prepareEncodedAppend(files, { txns: [{ appId: 'app', version: 4, expect: 1 }] });
    assert.equal(again.kind, 'conflict');
  });

  it('splits by measured row size unless the caller says the input is small', async () => {
    const small = struct([field('s', 'string')]);
    const batch = { numRows: 100, columns: { s: Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(1000, 'x')) } };
    const opts = { codec: 'snappy' as const, numIndexedCols: 32, maxFileBytes: 20_000, encode: encodeColumns };
    assert.ok((await encodeDataFiles(small, [], batch, opts)).length >= 5);
    assert.equal((await encodeDataFiles(small, [], batch, { ...opts, inputBytes: 10_000 })).length, 1);
  });
});
