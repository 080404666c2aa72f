/**
 * DeltaTable: create, open and append, on top of the pure planner
 * (`planAppend`) and the I/O shell (data files, commit, checkpoint).
 *
 * Append invariants:
 * - Data files get unique names (`part-<uuid>.c000.snappy.parquet`) and are
 *   written before the commit; a file only becomes part of the table when the
 *   commit that adds it lands. A commit that loses with a real conflict deletes
 *   the files it wrote (best effort; leftovers are unreferenced and vacuumable).
 * - `txn` actions ride in the same commit as the data they account for, so
 *   data and application progress advance atomically. An append whose txn
 *   version is not newer than the table's is refused as a conflict value.
 * - Every `delta.checkpointInterval` versions (default 10) a checkpoint is
 *   written after the commit; a failed checkpoint is reported, never fatal.
 */
import { randomUUID } from 'node:crypto';
import { ReddStreamError } from '../errors.ts';
import { DEFAULT_CODEC, type Codec } from '../parquet/write.ts';
import { inlineEncoder, type ParquetEncoder } from '../parquet/encoder.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Action, Add, Metadata, Protocol, Txn } from './actions.ts';
import { writeCheckpoint } from './checkpoint.ts';
import { checkWriteSupported } from './features.ts';
import { LOG_DIR } from './log-path.ts';
import { encodeAddPath } from './partitions.ts';
import { encodeDataFiles, type ColumnBatch, type EncodedFile } from './data-files.ts';
import { loadSnapshot, requireTombstones, Snapshot, updateSnapshot } from './snapshot.ts';
import {
  addedColumns,
  newColumns,
  parseSchemaString,
  schemaToString,
  struct,
  type DataType,
  type StructType,
} from './schema.ts';
import { commit, type CommitResult } from './transaction.ts';
import type { DeltaValue } from './values.ts';

export { chunkRows, groupByPartition, type ColumnBatch, type EncodedFile } from './data-files.ts';

export interface CreateOptions {
  schema: StructType;
  partitionColumns?: string[];
  name?: string;
  description?: string;
  /** Table properties; `delta.checkpointInterval` defaults to 10. */
  configuration?: Record<string, string>;
}

export interface AppendOptions {
  /** Application transactions committed atomically with the data. `expect`:
   *  the version the table must still hold for this app (null: none), else the
   *  append is a conflict (another writer advanced the application meanwhile). */
  txns?: Array<{ appId: string; version: number; expect?: number | null }>;
  /** Operation name in commitInfo (default WRITE). */
  operation?: string;
  /** Extra commitInfo fields. */
  commitInfo?: Record<string, unknown>;
  /** Schema of the batch when it adds nullable columns (schema evolution). */
  schema?: StructType;
  codec?: Codec;
  /** Check `txns` against the current snapshot while preparing (default true; the check at commit time always runs). */
  prepareTxnCheck?: boolean;
}

/** A data file encoded but not yet uploaded. `path` is the decoded relative path. */
export interface PreparedFile {
  path: string;
  bytes: Uint8Array;
  add: Add;
}

/** An append ready to commit: files in memory, planned actions, txns. */
export interface PreparedAppend {
  kind: 'prepared';
  files: PreparedFile[];
  /** metaData/protocol actions (schema evolution), if any. */
  actions: Action[];
  txns: Array<{ appId: string; version: number; expect?: number | null }>;
  rows: number;
  commitInfo: Record<string, unknown>;
}

/** The conflict result when `txns` cannot be committed on `snap` (pure). */
export function txnConflict(
  snap: Snapshot,
  txns: PreparedAppend['txns'],
): Extract<AppendResult, { kind: 'conflict' }> | null {
  for (const t of txns) {
    const have = snap.txnVersion(t.appId);
    const w = snap.state.txns.get(t.appId);
    if (t.expect !== undefined && (have ?? null) !== t.expect) {
      return {
        kind: 'conflict',
        version: snap.version,
        reason: `application transaction ${t.appId} is at ${have ?? 'none'}, expected ${t.expect ?? 'none'} (another writer advanced it)`,
        winningTxns: w ? [w] : [],
      };
    }
    if (have !== undefined && have >= t.version) {
      return {
        kind: 'conflict',
        version: snap.version,
        reason: `application transaction ${t.appId} is already at version ${have} (>= ${t.version})`,
        winningTxns: w ? [w] : [],
      };
    }
  }
  return null;
}

export type AppendResult =
  | {
      kind: 'committed';
      version: number;
      attempts: number;
      files: Add[];
      rows: number;
      bytes: number;
      checkpointError?: Error;
    }
  | { kind: 'conflict'; version: number; reason: string; winningTxns: Txn[] };

/**
 * The actions that let `snap`'s table hold data of schema `target` (pure):
 * none when it already can; else a metaData action adding the columns it
 * lacks (nullable) to the table's current schema and metadata, and the
 * protocol upgrade a new column's type needs. Throws SCHEMA_MISMATCH when a
 * column has another type in the table.
 */
export function evolutionActions(snap: Snapshot, target: StructType | undefined): Action[] {
  if (!target) return [];
  const added = newColumns(snap.schema, target);
  if (added.length === 0) return [];
  const schema = struct([...snap.schema.fields, ...added]);
  const actions: Action[] = [{ metaData: { ...snap.metadata, schemaString: schemaToString(schema) } }];
  const p = snap.protocol;
  if (hasType(schema, 'timestamp_ntz') && !(p.readerFeatures ?? []).includes('timestampNtz')) {
    // timestamp_ntz columns need the timestampNtz table feature (reader 3 / writer 7);
    // legacy writer versions imply appendOnly and invariants, which stay listed.
    const legacy = p.minWriterVersion >= 7 ? [] : ['appendOnly', 'invariants'];
    actions.push({
      protocol: {
        minReaderVersion: 3,
        minWriterVersion: 7,
        readerFeatures: [...new Set([...(p.readerFeatures ?? []), 'timestampNtz'])],
        writerFeatures: [...new Set([...(p.writerFeatures ?? []), ...legacy, 'timestampNtz'])],
      },
    });
  }
  return actions;
}

export function hasType(t: DataType, name: string): boolean {
  switch (t.kind) {
    case 'primitive':
      return t.name === name;
    case 'decimal':
      return false;
    case 'struct':
      return t.fields.some((f) => hasType(f.type, name));
    case 'array':
      return hasType(t.elementType, name);
    case 'map':
      return hasType(t.keyType, name) || hasType(t.valueType, name);
  }
}

/** Protocol and metaData actions creating a table (pure). */
export function planCreate(
  options: CreateOptions,
  now = Date.now(),
  id: string = randomUUID(),
): { protocol: Protocol; metaData: Metadata } {
  const partitionColumns = options.partitionColumns ?? [];
  const names = new Set(options.schema.fields.map((f) => f.name));
  for (const p of partitionColumns) {
    if (!names.has(p)) {
      throw new ReddStreamError(
        'INVALID_TABLE_DEFINITION',
        `partition column "${p}" is not in the schema (columns: ${[...names].join(', ')})`,
      );
    }
    const t = options.schema.fields.find((f) => f.name === p)!.type;
    if (t.kind !== 'primitive' && t.kind !== 'decimal') {
      throw new ReddStreamError('INVALID_TABLE_DEFINITION', `partition column "${p}" must have a primitive type`);
    }
  }
  if (partitionColumns.length > 0 && partitionColumns.length === options.schema.fields.length) {
    throw new ReddStreamError('INVALID_TABLE_DEFINITION', 'at least one column must not be a partition column');
  }
  const ntz = hasType(options.schema, 'timestamp_ntz');
  const protocol: Protocol = ntz
    ? { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['timestampNtz'], writerFeatures: ['timestampNtz'] }
    : { minReaderVersion: 1, minWriterVersion: 2 };
  const metaData: Metadata = {
    id,
    name: options.name ?? null,
    description: options.description ?? null,
    format: { provider: 'parquet', options: {} },
    schemaString: schemaToString(options.schema),
    partitionColumns,
    configuration: { 'delta.checkpointInterval': '10', ...(options.configuration ?? {}) },
    createdTime: now,
  };
  return { protocol, metaData };
}

export function rowsToBatch(schema: StructType, rows: Array<Record<string, DeltaValue>>): ColumnBatch {
  const columns: Record<string, DeltaValue[]> = {};
  for (const f of schema.fields) columns[f.name] = rows.map((r) => r[f.name] ?? null);
  return { numRows: rows.length, columns };
}

/** Unique names and `add` actions for encoded data files (not uploaded yet). */
export function nameDataFiles(encoded: EncodedFile[], dataChange: boolean): PreparedFile[] {
  const now = Date.now();
  return encoded.map((f) => {
    const name = `part-00000-${randomUUID()}.c000.${f.codec}.parquet`;
    const decoded = f.dir === '' ? name : `${f.dir}/${name}`;
    const add = {
      path: encodeAddPath(decoded),
      partitionValues: f.partitionValues,
      size: f.bytes.byteLength,
      modificationTime: now,
      dataChange,
      stats: f.stats,
    };
    return { path: decoded, bytes: f.bytes, add };
  });
}

export interface TableOptions {
  /** Split appends into files of about this many input bytes (default 32 MiB). */
  maxFileBytes?: number;
}

export class DeltaTable {
  readonly store: ObjectStore;
  private current: Snapshot;
  maxFileBytes = 32 * 1024 * 1024;
  /** How data files are encoded (in this thread by default; a worker for throughput). */
  encoder: ParquetEncoder = inlineEncoder;

  private constructor(store: ObjectStore, snapshot: Snapshot) {
    requireTombstones(snapshot, 'a writer');
    this.store = store;
    this.current = snapshot;
  }

  get snapshot(): Snapshot {
    return this.current;
  }
  get version(): number {
    return this.current.version;
  }
  get schema(): StructType {
    return this.current.schema;
  }
  get partitionColumns(): string[] {
    return this.current.partitionColumns;
  }

  static async open(store: ObjectStore, version?: number): Promise<DeltaTable> {
    return new DeltaTable(store, await loadSnapshot(store, { version }));
  }

  /** Create a new table; fails with TABLE_EXISTS if one exists already. */
  static async create(store: ObjectStore, options: CreateOptions): Promise<DeltaTable> {
    const { protocol, metaData } = planCreate(options);
    const existing = (await store.list(`${LOG_DIR}/`)).filter((m) => /\/\d{20}\.(json|checkpoint\.)/.test(m.path));
    if (existing.length > 0) {
      throw new ReddStreamError('TABLE_EXISTS', `a Delta table already exists at ${store.url}`);
    }
    const res = await commit(store, -1, [{ protocol }, { metaData }], {
      operation: 'CREATE TABLE',
      operationParameters: { partitionBy: JSON.stringify(metaData.partitionColumns) },
      engineInfo: 'reddit-stream',
    });
    if (res.kind === 'conflict') {
      throw new ReddStreamError('TABLE_EXISTS', `a Delta table already exists at ${store.url}`);
    }
    return DeltaTable.open(store);
  }

  /** Open the table, creating it with `options` when there is none. */
  static async openOrCreate(store: ObjectStore, options: CreateOptions): Promise<DeltaTable> {
    try {
      return await DeltaTable.open(store);
    } catch (err) {
      if (!(err instanceof ReddStreamError) || err.code !== 'NOT_A_DELTA_TABLE') throw err;
    }
    try {
      return await DeltaTable.create(store, options);
    } catch (err) {
      if (err instanceof ReddStreamError && err.code === 'TABLE_EXISTS') {
        return DeltaTable.open(store);
      }
      throw err;
    }
  }

  /** Read commits newer than the current snapshot. */
  async refresh(): Promise<Snapshot> {
    this.current = await updateSnapshot(this.current);
    return this.current;
  }

  async appendRows(rows: Array<Record<string, DeltaValue>>, options: AppendOptions = {}): Promise<AppendResult> {
    return this.append(rowsToBatch(options.schema ?? this.schema, rows), options);
  }

  async append(batch: ColumnBatch, options: AppendOptions = {}): Promise<AppendResult> {
    const prepared = await this.prepareAppend(batch, options);
    if (prepared.kind === 'conflict') return prepared;
    return this.commitPrepared(prepared);
  }

  /**
   * Encode a batch into data files (kept in memory, not uploaded) and plan the
   * commit's actions. Pure with respect to the table: nothing is written.
   * The result can be committed now (`commitPrepared`) or kept (e.g. spooled
   * during a storage outage) and committed later.
   */
  async prepareAppend(
    batch: ColumnBatch,
    options: AppendOptions = {},
  ): Promise<PreparedAppend | Extract<AppendResult, { kind: 'conflict' }>> {
    const plan = await this.planAppend(options);
    if (plan.kind === 'conflict') return plan;
    let encoded: EncodedFile[];
    try {
      encoded = await encodeDataFiles(plan.schema, this.current.partitionColumns, batch, {
        ...this.encodeSettings(options.codec),
        encode: (schema, columns, numRows, opts) => this.encoder.encode(schema, columns, numRows, opts),
      });
    } catch (err) {
      throw new ReddStreamError(
        'SCHEMA_MISMATCH',
        `cannot write batch to ${this.store.url}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return this.finishPrepare(plan, encoded, options);
  }

  /**
   * Like `prepareAppend`, for files encoded elsewhere (e.g. a worker thread
   * running `encodeDataFiles` with `encodeSettings()` under the schema it was
   * given: the table's, or `options.schema` when evolving it).
   */
  async prepareEncodedAppend(
    files: EncodedFile[],
    options: AppendOptions = {},
  ): Promise<PreparedAppend | Extract<AppendResult, { kind: 'conflict' }>> {
    const plan = await this.planAppend(options);
    if (plan.kind === 'conflict') return plan;
    return this.finishPrepare(plan, files, options);
  }

  /** How this table wants data files encoded (codec, stats columns, file size). */
  encodeSettings(codec?: Codec): { codec: Codec; numIndexedCols: number; maxFileBytes: number } {
    return {
      codec: codec ?? DEFAULT_CODEC,
      numIndexedCols: Number(this.current.tableProperty('delta.dataSkippingNumIndexedCols') ?? 32),
      maxFileBytes: this.maxFileBytes,
    };
  }

  private async planAppend(
    options: AppendOptions,
  ): Promise<{ kind: 'planned'; schema: StructType; actions: Action[] } | Extract<AppendResult, { kind: 'conflict' }>> {
    // A stale snapshot is acceptable here (the store may be down): the txn
    // checks are repeated against the latest snapshot at commit time.
    await this.refresh().catch(() => undefined);
    const snap = this.current;
    const schema = options.schema ?? snap.schema;
    checkWriteSupported(snap.protocol, snap.metadata, snap.schema, this.store.url);
    // The batch's schema must be the table's plus nullable columns (throws otherwise).
    if (options.schema) addedColumns(snap.schema, options.schema);
    const actions = evolutionActions(snap, options.schema);
    const stale = options.prepareTxnCheck === false ? null : txnConflict(snap, options.txns ?? []);
    if (stale) return stale;
    return { kind: 'planned', schema, actions };
  }

  private finishPrepare(plan: { actions: Action[] }, encoded: EncodedFile[], options: AppendOptions): PreparedAppend {
    const files = nameDataFiles(encoded, true);
    const bytes = files.reduce((s, f) => s + f.add.size, 0);
    const rows = encoded.reduce((s, f) => s + f.numRows, 0);
    return {
      kind: 'prepared',
      files,
      actions: plan.actions,
      txns: options.txns ?? [],
      rows,
      commitInfo: {
        operation: options.operation ?? 'WRITE',
        operationParameters: { mode: 'Append', partitionBy: JSON.stringify(this.current.partitionColumns) },
        operationMetrics: {
          numFiles: String(files.length),
          numOutputRows: String(rows),
          numOutputBytes: String(bytes),
        },
        isBlindAppend: plan.actions.length === 0,
        engineInfo: 'reddit-stream',
        ...options.commitInfo,
      },
    };
  }

  /**
   * Upload a prepared append's files and commit it. Everything that depends
   * on the table is decided again on the latest snapshot, as the table may
   * have changed since the append was prepared (it may have been spooled for
   * hours): the txn checks, whether this writer supports the table's
   * features, and the schema change, rebuilt on the latest metadata (so a
   * column or property another writer added meanwhile is kept).
   */
  async commitPrepared(prepared: PreparedAppend): Promise<AppendResult> {
    await this.refresh();
    const snap = this.current;
    checkWriteSupported(snap.protocol, snap.metadata, snap.schema, this.store.url);
    const stale = txnConflict(snap, prepared.txns);
    if (stale) return stale;
    const planned = prepared.actions.find((a): a is Extract<Action, { metaData: Metadata }> => 'metaData' in a);
    const actions = evolutionActions(snap, planned ? parseSchemaString(planned.metaData.schemaString) : undefined);
    await Promise.all(prepared.files.map((f) => this.store.put(f.path, f.bytes)));
    const adds = prepared.files.map((f) => f.add);
    actions.push(...adds.map((add) => ({ add })));
    const now = Date.now();
    for (const t of prepared.txns) actions.push({ txn: { appId: t.appId, version: t.version, lastUpdated: now } });
    const bytes = adds.reduce((s, f) => s + f.size, 0);
    let res: CommitResult;
    try {
      res = await commit(this.store, snap.version, actions, {
        ...prepared.commitInfo,
        isBlindAppend: !actions.some((a) => 'metaData' in a || 'protocol' in a),
      });
    } catch (err) {
      // The commit may have landed (e.g. a timeout after a successful write):
      // only a definite failure lets us delete the files; otherwise they stay
      // (unreferenced files are harmless and vacuumable).
      if (err instanceof ReddStreamError && err.code === 'COMMIT_FAILED') await this.deleteFiles(adds);
      throw err;
    }
    if (res.kind === 'conflict') {
      await this.deleteFiles(adds);
      return res;
    }
    const checkpointError = await this.afterCommit(snap, res.version);
    return {
      kind: 'committed',
      version: res.version,
      attempts: res.attempts,
      files: adds,
      rows: prepared.rows,
      bytes,
      ...(checkpointError ? { checkpointError } : {}),
    };
  }

  /**
   * A commit of this writer landed at `version` on top of `from`: bring the
   * snapshot up to it and write the checkpoint when `version` is a multiple
   * of `delta.checkpointInterval`. A failure is returned, never thrown: the
   * commit stands, and a checkpoint is only an optimisation.
   */
  async afterCommit(from: Snapshot, version: number): Promise<Error | undefined> {
    try {
      this.current = await updateSnapshot(from, version);
    } catch (err) {
      return err as Error;
    }
    const interval = Number(this.current.tableProperty('delta.checkpointInterval') ?? 10) || 10;
    if (this.current.version !== version || version === 0 || version % interval !== 0) return undefined;
    try {
      await writeCheckpoint(this.store, this.current.state);
    } catch (err) {
      return err as Error;
    }
    return undefined;
  }

  /** Delete data files this writer wrote but did not commit (best effort). */
  async deleteFiles(files: Add[]): Promise<void> {
    for (const f of files) await this.store.delete(decodeURIComponent(f.path)).catch(() => undefined);
  }
}
