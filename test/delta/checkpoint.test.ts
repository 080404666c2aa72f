/**
 * Checkpoints (src/delta/checkpoint.ts): the rows written for a state, the
 * tombstone retention, and round trips through our snapshot loader, with
 * single-file and multi-part checkpoints.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeletionVector, LogAction } from '../../src/delta/actions.ts';
import {
  CHECKPOINT_SCHEMA,
  checkpointRows,
  tombstoneRetentionMs,
  writeCheckpoint,
} from '../../src/delta/checkpoint.ts';
import { checkpointPath, commitPath, LAST_CHECKPOINT, multiPartCheckpointPath } from '../../src/delta/log-path.ts';
import { replay, type TableState } from '../../src/delta/replay.ts';
import { readAllRows } from '../../src/delta/scan.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { commit } from '../../src/delta/transaction.ts';
import type { DeltaValue } from '../../src/delta/values.ts';
import { encodeColumns } from '../../src/parquet/write.ts';
import { MemoryObjectStore } from '../../src/storage/memory.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2024, 0, 10);
const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }],
});
const protocol: LogAction = {
  protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: [] },
};
const metaData = (configuration: Record<string, string> = {}): LogAction => ({
  metaData: {
    id: 'cp-test',
    name: 'events',
    format: { provider: 'parquet', options: {} },
    schemaString: SCHEMA,
    partitionColumns: [],
    configuration,
    createdTime: 123,
  },
});
const dv = (pathOrInlineDv: string): DeletionVector => ({
  storageType: 'u',
  pathOrInlineDv,
  offset: 1,
  sizeInBytes: 34,
  cardinality: 2,
});
const add = (path: string, deletionVector?: DeletionVector): LogAction => ({
  add: {
    path,
    partitionValues: {},
    size: 100,
    modificationTime: 5,
    dataChange: true,
    stats: '{"numRecords":3}',
    tags: { origin: 'test' },
    deletionVector,
  },
});
const remove = (path: string, deletionTimestamp?: number, deletionVector?: DeletionVector): LogAction => ({
  remove: { path, deletionTimestamp, dataChange: true, size: 100, deletionVector },
});

/** Encode checkpoint rows as one Parquet part, the way `writeCheckpoint` does. */
async function encodeRows(rows: Array<Record<string, DeltaValue>>): Promise<Uint8Array> {
  const columns: Record<string, DeltaValue[]> = {};
  for (const f of CHECKPOINT_SCHEMA.fields) columns[f.name] = rows.map((r) => r[f.name] ?? null);
  return encodeColumns(CHECKPOINT_SCHEMA, columns, rows.length, { codec: 'snappy' });
}

/** Logical files as "path[#vector]", sorted, for live files and tombstones. */
function fileIds(state: TableState) {
  const id = (f: { path: string; deletionVector?: DeletionVector | null }) =>
    f.deletionVector ? `${f.path}#${f.deletionVector.pathOrInlineDv}` : f.path;
  return { files: [...state.files.values()].map(id).sort(), tombstones: [...state.tombstones.values()].map(id).sort() };
}

describe('tombstoneRetentionMs', () => {
  it('reads delta.deletedFileRetentionDuration, one week by default', () => {
    assert.equal(tombstoneRetentionMs({}), 7 * DAY);
    assert.equal(tombstoneRetentionMs({ 'delta.deletedFileRetentionDuration': 'interval 2 days' }), 2 * DAY);
    assert.equal(tombstoneRetentionMs({ 'delta.deletedFileRetentionDuration': 'interval 1 day' }), DAY);
    assert.equal(tombstoneRetentionMs({ 'delta.deletedFileRetentionDuration': 'interval 12 hours' }), DAY / 2);
    assert.equal(tombstoneRetentionMs({ 'delta.deletedFileRetentionDuration': '3 weeks' }), 21 * DAY);
    assert.equal(tombstoneRetentionMs({ 'delta.deletedFileRetentionDuration': 'INTERVAL 90 SECONDS' }), 90_000);
  });

  it('falls back to one week when the value cannot be parsed', () => {
    assert.equal(tombstoneRetentionMs({ 'delta.deletedFileRetentionDuration': 'soon' }), 7 * DAY);
  });
});

describe('checkpointRows', () => {
  const state = replay([
    {
      version: 0,
      actions: [
        protocol,
        metaData({ 'delta.deletedFileRetentionDuration': 'interval 2 days' }),
        { txn: { appId: 'app-a', version: 4, lastUpdated: 9 } },
        add('live.parquet'),
        add('dv.parquet', dv('vec')),
        add('old.parquet'),
        add('recent.parquet'),
        add('undated.parquet'),
      ],
    },
    {
      version: 1,
      actions: [
        { txn: { appId: 'app-b', version: 1 } },
        remove('old.parquet', NOW - 3 * DAY),
        remove('recent.parquet', NOW - DAY),
        remove('undated.parquet'),
      ],
    },
  ]);
  const rows = checkpointRows(state, NOW);
  const kinds = rows.map((r) => Object.keys(r).filter((k) => r[k] !== null && r[k] !== undefined)[0]);
  const bodies = (kind: string) => rows.filter((r) => r[kind]).map((r) => r[kind] as Record<string, DeltaValue>);

  it('writes protocol, metaData, one txn per app, live adds, then tombstones, one action per row', () => {
    assert.deepEqual(kinds, ['protocol', 'metaData', 'txn', 'txn', 'add', 'add', 'remove', 'remove']);
    assert.deepEqual(bodies('protocol')[0], {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['deletionVectors'],
      writerFeatures: [],
    });
    const m = bodies('metaData')[0];
    assert.equal(m.schemaString, SCHEMA);
    assert.equal(m.createdTime, 123n);
    assert.deepEqual(m.configuration, [['delta.deletedFileRetentionDuration', 'interval 2 days']]);
    assert.deepEqual(
      bodies('txn').map((t) => [t.appId, t.version, t.lastUpdated]),
      [
        ['app-a', 4n, 9n],
        ['app-b', 1n, null],
      ],
    );
  });

  it('writes live adds with dataChange false, their stats, tags and deletion vector', () => {
    const adds = bodies('add');
    assert.deepEqual(
      adds.map((a) => a.path),
      ['live.parquet', 'dv.parquet'],
    );
    assert.deepEqual(adds[0], {
      path: 'live.parquet',
      partitionValues: [],
      size: 100n,
      modificationTime: 5n,
      dataChange: false,
      stats: '{"numRecords":3}',
      tags: [['origin', 'test']],
      deletionVector: null,
    });
    assert.deepEqual(adds[1].deletionVector, {
      storageType: 'u',
      pathOrInlineDv: 'vec',
      offset: 1,
      sizeInBytes: 34,
      cardinality: 2n,
    });
  });

  it('keeps only tombstones inside the retention (and those without a deletion time)', () => {
    assert.deepEqual(
      bodies('remove').map((r) => [r.path, r.deletionTimestamp, r.dataChange]),
      [
        ['recent.parquet', BigInt(NOW - DAY), false],
        ['undated.parquet', null, false],
      ],
    );
    // with the default retention of one week, a tombstone of three days ago is kept
    const week = replay([
      { version: 0, actions: [protocol, metaData(), add('old.parquet')] },
      { version: 1, actions: [remove('old.parquet', NOW - 3 * DAY)] },
    ]);
    assert.equal(checkpointRows(week, NOW).filter((r) => r.remove).length, 1);
  });
});

describe('checkpoint round trips through the snapshot loader', () => {
  it('a table with partitions, txns and a removed file loads from its checkpoint alone', async () => {
    const store = new MemoryObjectStore();
    const table = await DeltaTable.create(store, {
      schema: struct([field('id', 'long'), field('p', 'string')]),
      partitionColumns: ['p'],
    });
    await table.appendRows(
      [
        { id: 1n, p: 'a b' },
        { id: 2n, p: 'c' },
      ],
      { txns: [{ appId: 'ingest', version: 7 }] },
    );
    await table.appendRows([{ id: 3n, p: null }], { txns: [{ appId: 'other', version: 1 }] });
    const gone = table.snapshot.files().find((f) => f.partitionValues.p === 'c')!;
    await commit(
      store,
      table.version,
      [{ remove: { path: gone.path, deletionTimestamp: Date.now(), dataChange: true, size: gone.size } }],
      { operation: 'DELETE' },
    );
    const before = (await table.refresh()).state;
    assert.equal(before.version, 3);

    const written = await writeCheckpoint(store, before);
    // protocol, metaData, two txns, two live files, one tombstone
    assert.deepEqual([written.version, written.size], [3, 7]);
    const last = JSON.parse(new TextDecoder().decode(await store.get(LAST_CHECKPOINT)));
    assert.deepEqual(
      { version: last.version, size: last.size, numOfAddFiles: last.numOfAddFiles },
      { version: 3, size: 7, numOfAddFiles: 2 },
    );
    // only the checkpoint can rebuild version 3 now
    for (let v = 0; v <= 3; v++) await store.delete(commitPath(v));

    const after = await loadSnapshot(store);
    assert.equal(after.checkpointVersion, 3);
    assert.equal(after.version, 3);
    assert.deepEqual(after.protocol, before.protocol);
    assert.deepEqual(after.metadata, before.metadata);
    assert.deepEqual(Object.fromEntries([...after.state.txns].map(([k, t]) => [k, t.version])), {
      ingest: 7,
      other: 1,
    });
    assert.deepEqual([...after.state.files.keys()].sort(), [...before.files.keys()].sort());
    for (const [k, f] of before.files) {
      const g = after.state.files.get(k)!;
      assert.deepEqual(
        [g.path, g.size, g.modificationTime, g.partitionValues, g.stats],
        [f.path, f.size, f.modificationTime, f.partitionValues, f.stats],
      );
    }
    assert.deepEqual([...after.state.tombstones.keys()], [...before.tombstones.keys()]);
    assert.deepEqual((await readAllRows(after)).map((r) => [r.id, r.p]).sort(), [
      [1n, 'a b'],
      [3n, null],
    ]);
  });

  it('keeps logical files that share a path but differ in deletion vector', async () => {
    const store = new MemoryObjectStore();
    const state = replay([
      { version: 0, actions: [protocol, metaData(), add('f.parquet')] },
      { version: 1, actions: [remove('f.parquet', Date.now()), add('f.parquet', dv('one'))] },
      { version: 2, actions: [remove('f.parquet', Date.now(), dv('one')), add('f.parquet', dv('two'))] },
    ]);
    await writeCheckpoint(store, state);
    const loaded = await loadSnapshot(store, { skipFeatureCheck: true });
    assert.equal(loaded.checkpointVersion, 2);
    assert.deepEqual(fileIds(loaded.state), { files: ['f.parquet#two'], tombstones: ['f.parquet', 'f.parquet#one'] });
    assert.deepEqual(loaded.files()[0].deletionVector, dv('two'));
  });

  it('reads every part of a multi-part checkpoint, and ignores one with a missing part', async () => {
    const store = new MemoryObjectStore();
    const actions = [protocol, metaData(), add('f.parquet', dv('two')), remove('f.parquet', Date.now(), dv('one'))];
    await store.put(commitPath(0), new TextEncoder().encode(actions.map((a) => JSON.stringify(a)).join('\n')));
    // part 1: protocol, metaData, the add; part 2: the tombstone of the same path
    const rows = checkpointRows(replay([{ version: 0, actions }]));
    await store.put(multiPartCheckpointPath(0, 1, 2), await encodeRows(rows.slice(0, 3)));
    await store.put(multiPartCheckpointPath(0, 2, 2), await encodeRows(rows.slice(3)));
    const expected = { files: ['f.parquet#two'], tombstones: ['f.parquet#one'] };

    const both = await loadSnapshot(store, { skipFeatureCheck: true });
    assert.equal(both.checkpointVersion, 0);
    assert.deepEqual(fileIds(both.state), expected);

    await store.delete(multiPartCheckpointPath(0, 2, 2));
    const fallback = await loadSnapshot(store, { skipFeatureCheck: true });
    assert.equal(fallback.checkpointVersion, null);
    assert.deepEqual(fileIds(fallback.state), expected);
  });

  it('a checkpoint that cannot be decoded is reported as CORRUPT_CHECKPOINT naming the file', async () => {
    const store = new MemoryObjectStore();
    await store.put(checkpointPath(4), new TextEncoder().encode('not parquet'));
    await assert.rejects(loadSnapshot(store), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'CORRUPT_CHECKPOINT');
      assert.match((e as Error).message, /00000000000000000004\.checkpoint\.parquet/);
      return true;
    });
  });
});
