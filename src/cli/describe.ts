/** `reddit-stream describe`: schema, partitioning, protocol, version, files, bytes, checkpoint. */
import { readLastCheckpoint, loadSnapshot, numRecords } from '../delta/snapshot.ts';
import { typeName } from '../delta/schema.ts';
import { openStore, type S3StoreOptions } from '../storage/index.ts';

export async function describeLines(
  uri: string,
  options: { version?: number; format?: 'text' | 'json'; s3?: S3StoreOptions } = {},
): Promise<string[]> {
  const store = openStore(uri, options.s3);
  const snap = await loadSnapshot(store, { version: options.version, skipFeatureCheck: true });
  const last = await readLastCheckpoint(store);
  const files = snap.files();
  const bytes = files.reduce((s, f) => s + f.size, 0);
  let rows: number | null = 0;
  for (const f of files) {
    const n = numRecords(f.stats);
    rows = rows === null || n === null ? null : rows + n;
  }
  const info = {
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
  };
  if (options.format === 'json') return [JSON.stringify(info, null, 2)];
  const p = snap.protocol;
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
