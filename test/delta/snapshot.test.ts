/**
 * Loading snapshots (and `describe`) from small hand-written logs: the
 * effective metaData decides whether a version is readable, and a logical
 * file's identity includes its deletion vector, also in checkpoints, whose
 * rows have no order.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { describeLines } from '../../src/cli/describe.ts';
import { ReddStreamError, UnsupportedFeatureError } from '../../src/errors.ts';
import { CHECKPOINT_SCHEMA, checkpointRows } from '../../src/delta/checkpoint.ts';
import type { LogAction } from '../../src/delta/actions.ts';
import { checkpointPath, commitPath } from '../../src/delta/log-path.ts';
import { deletionVectorId, replay } from '../../src/delta/replay.ts';
import { loadSnapshot, updateSnapshot, type Snapshot } from '../../src/delta/snapshot.ts';
import type { DeltaValue } from '../../src/delta/values.ts';
import { encodeColumns } from '../../src/parquet/write.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { MemoryObjectStore } from '../../src/storage/memory.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';

const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }],
});
const METADATA = {
  id: 'table-id',
  format: { provider: 'parquet', options: {} },
  schemaString: SCHEMA,
  partitionColumns: [],
  configuration: {},
  createdTime: 1,
};
const { schemaString: _absent, ...WITHOUT_SCHEMA } = METADATA;
const DV_PROTOCOL = {
  minReaderVersion: 3,
  minWriterVersion: 7,
  readerFeatures: ['deletionVectors'],
  writerFeatures: ['deletionVectors'],
};
const dv = (pathOrInlineDv: string, offset: number) => ({
  storageType: 'u',
  pathOrInlineDv,
  offset,
  sizeInBytes: 34,
  cardinality: 2,
});
const add = (p: string, size: number, deletionVector: ReturnType<typeof dv> | null = null) => ({
  add: { path: p, partitionValues: {}, size, modificationTime: 1, dataChange: true, deletionVector },
});
const remove = (p: string, deletionVector: ReturnType<typeof dv> | null = null) => ({
  remove: { path: p, deletionTimestamp: Date.now(), dataChange: true, deletionVector },
});

async function writeCommit(store: ObjectStore, version: number, actions: object[]): Promise<void> {
  await store.put(commitPath(version), new TextEncoder().encode(actions.map((a) => JSON.stringify(a)).join('\n')));
}

/** A checkpoint at `version` holding the rows our writer makes for `actions`, in the given order. */
async function writeCheckpointOf(
  store: ObjectStore,
  version: number,
  actions: object[],
  order: 'as written' | 'reversed',
): Promise<void> {
  const rows = checkpointRows(replay([{ version, actions: actions as LogAction[] }]));
  if (order === 'reversed') rows.reverse();
  const columns: Record<string, DeltaValue[]> = {};
  for (const f of CHECKPOINT_SCHEMA.fields) columns[f.name] = rows.map((r) => r[f.name] ?? null);
  await store.put(checkpointPath(version), await encodeColumns(CHECKPOINT_SCHEMA, columns, rows.length));
}

const ids = (snap: Snapshot) =>
  snap
    .files()
    .map((f) => `${f.path}${f.deletionVector ? `#${deletionVectorId(f.deletionVector)}` : ''}:${f.size}`)
    .sort();
const tombstones = (snap: Snapshot) =>
  [...snap.state.tombstones.values()]
    .map((r) => `${r.path}${r.deletionVector ? `#${deletionVectorId(r.deletionVector)}` : ''}`)
    .sort();

const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('a later metaData replaces an incomplete one', () => {
  /** v0: metaData without schemaString (as some pipelines write); v1: the complete metaData. */
  async function table(store: ObjectStore): Promise<void> {
    await writeCommit(store, 0, [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      { metaData: WITHOUT_SCHEMA },
      add('a.parquet', 5),
    ]);
    await writeCommit(store, 1, [{ metaData: METADATA }, add('b.parquet', 7)]);
  }

  const refusesVersion0 = (e: unknown) => {
    assert.ok(e instanceof ReddStreamError && e.code === 'CORRUPT_LOG', String(e));
    assert.match(e.message, /at version 0 /);
    assert.match(e.message, /"metaData\.schemaString" must be a string, but it is absent/);
    return true;
  };

  it('loads the later version and refuses the early one, naming it', async () => {
    const store = new MemoryObjectStore();
    await table(store);
    const latest = await loadSnapshot(store);
    assert.equal(latest.version, 1);
    assert.deepEqual(
      latest.schema.fields.map((f) => f.name),
      ['id'],
    );
    assert.deepEqual(ids(latest), ['a.parquet:5', 'b.parquet:7']);
    await assert.rejects(loadSnapshot(store, { version: 0 }), refusesVersion0);
    await assert.rejects(loadSnapshot(store, { version: 0, skipFeatureCheck: true }), refusesVersion0);
  });

  it('describe reads the later version and refuses the early one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-replay-'));
    tempDirs.push(dir);
    await table(new LocalObjectStore(dir));
    const info = JSON.parse((await describeLines(dir, { format: 'json' })).join('\n'));
    assert.equal(info.version, 1);
    assert.equal(info.files, 2);
    assert.equal(info.bytes, 12);
    assert.deepEqual(info.schema, [{ name: 'id', type: 'long', nullable: true }]);
    await assert.rejects(describeLines(dir, { version: 0 }), refusesVersion0);
  });

  it('a refresh that reaches an incomplete metaData is refused, naming the version', async () => {
    const store = new MemoryObjectStore();
    await table(store);
    const snap = await loadSnapshot(store);
    await writeCommit(store, 2, [{ metaData: { ...METADATA, schemaString: 42 } }]);
    await assert.rejects(updateSnapshot(snap), /at version 2 .*"metaData\.schemaString" must be a string, got 42/);
  });
});

describe('deletion vectors are part of a logical file identity', () => {
  it('JSON commits: a DELETE that adds a deletion vector keeps the file live', async () => {
    const store = new MemoryObjectStore();
    await writeCommit(store, 0, [{ protocol: DV_PROTOCOL }, { metaData: METADATA }, add('f.parquet', 9)]);
    // add before remove: the actions of one commit need not be in any order
    await writeCommit(store, 1, [add('f.parquet', 9, dv('one', 1)), remove('f.parquet')]);
    const snap = await loadSnapshot(store, { skipFeatureCheck: true });
    assert.deepEqual(ids(snap), ['f.parquet#uone@1:9']);
    assert.deepEqual(tombstones(snap), ['f.parquet']);
  });

  it('a checkpoint with an add and a remove of the same path (different vectors) keeps the add, in either row order', async () => {
    const rows = [
      { protocol: DV_PROTOCOL },
      { metaData: METADATA },
      add('f.parquet', 9, dv('two', 1)),
      remove('f.parquet', dv('one', 1)),
      add('g.parquet', 4),
    ];
    for (const order of ['as written', 'reversed'] as const) {
      const store = new MemoryObjectStore();
      await writeCheckpointOf(store, 3, rows, order);
      const snap = await loadSnapshot(store, { skipFeatureCheck: true });
      assert.equal(snap.checkpointVersion, 3);
      assert.deepEqual(ids(snap), ['f.parquet#utwo@1:9', 'g.parquet:4']);
      assert.deepEqual(tombstones(snap), ['f.parquet#uone@1']);
      // commits after the checkpoint replace the vector again
      await writeCommit(store, 4, [remove('f.parquet', dv('two', 1)), add('f.parquet', 9, dv('three', 1))]);
      assert.deepEqual(ids(await loadSnapshot(store, { skipFeatureCheck: true })), [
        'f.parquet#uthree@1:9',
        'g.parquet:4',
      ]);
    }
  });

  it('describe counts such a table right, while reading its rows is refused naming deletionVectors', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-replay-'));
    tempDirs.push(dir);
    const store = new LocalObjectStore(dir);
    await writeCheckpointOf(
      store,
      0,
      [
        { protocol: DV_PROTOCOL },
        { metaData: METADATA },
        add('f.parquet', 9, dv('two', 1)),
        remove('f.parquet', dv('one', 1)),
      ],
      'as written',
    );
    const info = JSON.parse((await describeLines(dir, { format: 'json' })).join('\n'));
    assert.deepEqual([info.files, info.bytes, info.loadedFromCheckpoint], [1, 9, 0]);
    await assert.rejects(
      loadSnapshot(store),
      (e: unknown) => e instanceof UnsupportedFeatureError && e.features.includes('deletionVectors'),
    );
  });
});

describe('loading without tombstones (readers)', () => {
  it("a reader's snapshot has the same live files and txns but no checkpoint tombstones; writers and vacuum refuse it", async () => {
    const { DeltaTable } = await import('../../src/delta/table.ts');
    const { optimizeTable } = await import('../../src/delta/optimize.ts');
    const { vacuum } = await import('../../src/delta/vacuum.ts');
    const { field, struct } = await import('../../src/delta/schema.ts');
    const store = new MemoryObjectStore();
    const table = await DeltaTable.create(store, { schema: struct([field('id', 'long')]) });
    for (let i = 0; i < 12; i++) await table.appendRows([{ id: BigInt(i) }], { txns: [{ appId: 'a', version: i }] });
    await optimizeTable(table);
    for (let i = 12; i < 20; i++) await table.appendRows([{ id: BigInt(i) }], { txns: [{ appId: 'a', version: i }] });
    const full = await loadSnapshot(store);
    const reader = await loadSnapshot(store, { withoutTombstones: true });
    assert.equal(full.checkpointVersion, 20, 'the compaction is in the checkpoint');
    assert.equal(tombstones(full).length, 12);
    assert.deepEqual(tombstones(reader), []);
    assert.deepEqual(ids(reader), ids(full));
    assert.equal(reader.txnVersion('a'), 19);
    assert.equal(reader.tombstonesLoaded, false);
    await assert.rejects(vacuum(reader, store), /vacuum needs a snapshot loaded with its tombstones/);
  });
});
