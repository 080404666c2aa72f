/**
 * `reddit-stream describe`: schema, partitioning, protocol, version, files,
 * bytes, checkpoint, and the table's upkeep: small files, tombstones, the
 * log's size and the last compaction among the recent commits.
 */
import { readHistory, readLastCheckpoint, loadSnapshot, numRecords } from '../delta/snapshot.ts';
import { binBytes, compactionSettings, isSmall } from '../delta/optimize.ts';
import { LOG_DIR } from '../delta/log-path.ts';
import { typeName } from '../delta/schema.ts';
import { openStore, type S3StoreOptions } from '../storage/index.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Snapshot } from '../delta/snapshot.ts';

export async function describeLines(
  uri: string,
  options: { version?: number; format?: 'text' | 'json'; s3?: S3StoreOptions } = {},
): Promise<string[]> {
  const store = openStore(uri, options.s3);
  const snap = await loadSnapshot(store, { version: options.version, skipFeatureCheck: true });
  const info = await tableInfo(store, snap);
  return options.format === 'json' ? [JSON.stringify(info, null, 2)] : textLines(info, snap.protocol);
}

/** What `describe` reports about the table at `snap`. */
async function tableInfo(store: ObjectStore, snap: Snapshot) {
  const last = await readLastCheckpoint(store);
  const files = snap.files();
  const bytes = files.reduce((s, f) => s + f.size, 0);
  let rows: number | null = 0;
  for (const f of files) {
    const n = numRecords(f.stats);
    rows = rows === null || n === null ? null : rows + n;
  }
  const upkeep = await upkeepOf(store, snap);
  return {
    location: store.url,
    version: snap.version,
    id: snap.metadata.id,
    name: snap.metadata.name ?? null,
    description: snap.metadata.description ?? null,
    createdTime: snap.metadata.createdTime ? new Date(snap.metadata.createdTime).toISOString() : null,
    protocol: snap.protocol,
    partitionColumns: snap.partitionColumns,
    schema: snap.schema.fields.map((f) => ({ name: f.name, type: typeName(f.type), nullable: f.nullable })),
    configuration: snap.metadata.configuration,
    files: files.length,
    bytes,
    rows,
    transactions: snap.txns().map((t) => ({ appId: t.appId, version: t.version })),
    loadedFromCheckpoint: snap.checkpointVersion,
    lastCheckpoint: last?.version ?? null,
    ...upkeep,
  };
}

type Info = Awaited<ReturnType<typeof tableInfo>>;

/** The text form of `describe`. */
function textLines(info: Info, p: Snapshot['protocol']): string[] {
  const out = [
    `location:           ${info.location}`,
    `version:            ${info.version}`,
    `id:                 ${info.id}`,
  ];
  if (info.name) out.push(`name:               ${info.name}`);
  if (info.createdTime) out.push(`created:            ${info.createdTime}`);
  out.push(
    `protocol:           reader ${p.minReaderVersion}, writer ${p.minWriterVersion}` +
      (p.readerFeatures?.length ? `; reader features ${p.readerFeatures.join(', ')}` : '') +
      (p.writerFeatures?.length ? `; writer features ${p.writerFeatures.join(', ')}` : ''),
    `partition columns:  ${info.partitionColumns.length ? info.partitionColumns.join(', ') : '(none)'}`,
    `files:              ${info.files}`,
    `bytes:              ${info.bytes}`,
    `rows:               ${info.rows ?? 'unknown (some files have no stats)'}`,
    `small files:        ${info.smallFiles} (below ${(info.smallFileBytes / 1048576).toFixed(0)} MiB; reddit-stream optimize compacts them)`,
    `tombstones:         ${info.tombstones} (removed files kept for time travel until vacuumed)`,
    `log:                ${info.logFiles} files, ${info.logBytes} bytes`,
    `last compaction:    ${info.lastCompaction ? `version ${info.lastCompaction.version} at ${info.lastCompaction.time}` : `none in the last ${RECENT} commits`}`,
    `last checkpoint:    ${info.lastCheckpoint ?? 'none'}`,
    'schema:',
    ...info.schema.map((f) => `  ${f.name}: ${f.type}${f.nullable ? '' : ' NOT NULL'}`),
  );
  const conf = Object.entries(info.configuration);
  if (conf.length) out.push('properties:', ...conf.map(([k, v]) => `  ${k} = ${v}`));
  if (info.transactions.length) {
    out.push('application transactions:', ...info.transactions.map((t) => `  ${t.appId} = ${t.version}`));
  }
  return out;
}

/** Commits searched for the last compaction. */
const RECENT = 100;

async function upkeepOf(store: ObjectStore, snap: Snapshot) {
  const settings = compactionSettings((k) => snap.tableProperty(k));
  const log = await store.list(`${LOG_DIR}/`);
  const recent = await readHistory(store, RECENT).catch(() => []);
  const optimize = recent.find((h) => h.operation === 'OPTIMIZE');
  return {
    smallFiles: snap.files().filter((f) => isSmall(f, settings)).length,
    smallFileBytes: Math.floor(binBytes(settings) * 0.75),
    tombstones: snap.state.tombstones.size,
    logFiles: log.length,
    logBytes: log.reduce((n, o) => n + o.size, 0),
    lastCompaction: optimize
      ? { version: optimize.version, time: optimize.timestamp ? new Date(optimize.timestamp).toISOString() : null }
      : null,
  };
}
