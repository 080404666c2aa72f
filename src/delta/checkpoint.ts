/**
 * Writing classic single-file checkpoints: one Parquet file holding the
 * reconciled state at a version (protocol, metaData, txn per app, live add
 * files, unexpired remove tombstones), one action per row, followed by
 * `_delta_log/_last_checkpoint`. A checkpoint is an optimisation: failing to
 * write one never fails the commit that triggered it.
 */
import { tombstoneRetentionMs } from './retention.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { encodeColumns } from '../parquet/write.ts';
import type { DeletionVector } from './actions.ts';
import { checkpointPath, LAST_CHECKPOINT } from './log-path.ts';
import type { TableState } from './replay.ts';
import { field, struct, type DataType, type StructType } from './schema.ts';
import type { DeltaValue } from './values.ts';

const strMap: DataType = {
  kind: 'map',
  keyType: { kind: 'primitive', name: 'string' },
  valueType: { kind: 'primitive', name: 'string' },
  valueContainsNull: true,
};
const strArray: DataType = { kind: 'array', elementType: { kind: 'primitive', name: 'string' }, containsNull: true };
/** A logical file's identity includes its deletion vector, so a checkpoint keeps it. */
const deletionVectorType = struct([
  field('storageType', 'string'),
  field('pathOrInlineDv', 'string'),
  field('offset', 'integer'),
  field('sizeInBytes', 'integer'),
  field('cardinality', 'long'),
]);

export const CHECKPOINT_SCHEMA: StructType = struct([
  field('txn', struct([field('appId', 'string'), field('version', 'long'), field('lastUpdated', 'long')])),
  field(
    'add',
    struct([
      field('path', 'string'),
      field('partitionValues', strMap),
      field('size', 'long'),
      field('modificationTime', 'long'),
      field('dataChange', 'boolean'),
      field('stats', 'string'),
      field('tags', strMap),
      field('deletionVector', deletionVectorType),
    ]),
  ),
  field(
    'remove',
    struct([
      field('path', 'string'),
      field('deletionTimestamp', 'long'),
      field('dataChange', 'boolean'),
      field('extendedFileMetadata', 'boolean'),
      field('partitionValues', strMap),
      field('size', 'long'),
      field('deletionVector', deletionVectorType),
    ]),
  ),
  field(
    'metaData',
    struct([
      field('id', 'string'),
      field('name', 'string'),
      field('description', 'string'),
      field('format', struct([field('provider', 'string'), field('options', strMap)])),
      field('schemaString', 'string'),
      field('partitionColumns', strArray),
      field('configuration', strMap),
      field('createdTime', 'long'),
    ]),
  ),
  field(
    'protocol',
    struct([
      field('minReaderVersion', 'integer'),
      field('minWriterVersion', 'integer'),
      field('readerFeatures', strArray),
      field('writerFeatures', strArray),
    ]),
  ),
]);

const big = (n: number | null | undefined): bigint | null =>
  n === null || n === undefined ? null : BigInt(Math.trunc(n));
const entries = (m: Record<string, string | null> | null | undefined): DeltaValue => (m ? Object.entries(m) : null);
const dvRow = (dv: DeletionVector | null | undefined): DeltaValue =>
  dv
    ? {
        storageType: dv.storageType,
        pathOrInlineDv: dv.pathOrInlineDv,
        offset: dv.offset ?? null,
        sizeInBytes: dv.sizeInBytes,
        cardinality: BigInt(dv.cardinality),
      }
    : null;

export { tombstoneRetentionMs } from './retention.ts';

/** Rows of the checkpoint (pure). */
export function checkpointRows(state: TableState, now = Date.now()): Record<string, DeltaValue>[] {
  const rows: Record<string, DeltaValue>[] = [];
  const p = state.protocol;
  rows.push({
    protocol: {
      minReaderVersion: p.minReaderVersion,
      minWriterVersion: p.minWriterVersion,
      readerFeatures: p.readerFeatures ?? null,
      writerFeatures: p.writerFeatures ?? null,
    },
  });
  const m = state.metadata;
  rows.push({
    metaData: {
      id: m.id,
      name: m.name ?? null,
      description: m.description ?? null,
      format: { provider: m.format.provider, options: entries(m.format.options) ?? [] },
      schemaString: m.schemaString,
      partitionColumns: m.partitionColumns,
      configuration: entries(m.configuration) ?? [],
      createdTime: big(m.createdTime),
    },
  });
  for (const t of state.txns.values()) {
    rows.push({ txn: { appId: t.appId, version: BigInt(t.version), lastUpdated: big(t.lastUpdated) } });
  }
  for (const a of state.files.values()) {
    rows.push({
      add: {
        path: a.path,
        partitionValues: entries(a.partitionValues) ?? [],
        size: BigInt(a.size),
        modificationTime: BigInt(a.modificationTime),
        dataChange: false,
        stats: a.stats ?? null,
        tags: entries(a.tags),
        deletionVector: dvRow(a.deletionVector),
      },
    });
  }
  const cutoff = now - tombstoneRetentionMs(m.configuration);
  for (const r of state.tombstones.values()) {
    if ((r.deletionTimestamp ?? now) < cutoff) continue;
    rows.push({
      remove: {
        path: r.path,
        deletionTimestamp: big(r.deletionTimestamp),
        dataChange: false,
        extendedFileMetadata: r.extendedFileMetadata ?? null,
        partitionValues: entries(r.partitionValues),
        size: big(r.size),
        deletionVector: dvRow(r.deletionVector),
      },
    });
  }
  return rows;
}

export async function writeCheckpoint(
  store: ObjectStore,
  state: TableState,
): Promise<{ version: number; size: number; sizeInBytes: number }> {
  const rows = checkpointRows(state);
  const columns: Record<string, DeltaValue[]> = {};
  for (const f of CHECKPOINT_SCHEMA.fields) columns[f.name] = rows.map((r) => r[f.name] ?? null);
  const bytes = await encodeColumns(CHECKPOINT_SCHEMA, columns, rows.length, { codec: 'snappy' });
  await store.put(checkpointPath(state.version), bytes);
  const last = {
    version: state.version,
    size: rows.length,
    sizeInBytes: bytes.byteLength,
    numOfAddFiles: state.files.size,
  };
  await store.put(LAST_CHECKPOINT, new TextEncoder().encode(JSON.stringify(last)));
  return { version: state.version, size: rows.length, sizeInBytes: bytes.byteLength };
}
