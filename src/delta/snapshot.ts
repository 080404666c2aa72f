/**
 * Snapshot: the state of a table at one version, loaded through the
 * ObjectStore: `_last_checkpoint` hint -> listing -> log segment -> checkpoint
 * parts + JSON commits -> replay. Also reads the history of commits.
 */
import { ReddStreamError, isNotFound } from '../errors.ts';
import { openParquet } from '../parquet/read.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import {
  normaliseAction,
  parseCommit,
  type Add,
  type CommitInfo,
  type LogAction,
  type Metadata,
  type Protocol,
  type Txn,
} from './actions.ts';
import { checkReadSupported } from './features.ts';
import { LAST_CHECKPOINT, LOG_DIR, padVersion } from './log-path.ts';
import { classifyLog, planLogSegment, type CheckpointRef, type LogSegment } from './log-segment.ts';
import { applyActions, builderFrom, builderFromCheckpoint, emptyBuilder, finish, type TableState } from './replay.ts';
import { logRetentionMs } from './retention.ts';
import { parseSchemaString, type StructType } from './schema.ts';

export interface LastCheckpoint {
  version: number;
  size?: number;
  parts?: number;
  sizeInBytes?: number;
  numOfAddFiles?: number;
}

export class Snapshot {
  readonly store: ObjectStore;
  readonly state: TableState;
  readonly schema: StructType;
  /** Checkpoint the snapshot was loaded from, if any. */
  readonly checkpointVersion: number | null;
  /**
   * A time (ms) at which the log held no commit after this version
   * (-Infinity: not known, e.g. a time-travel snapshot). Every newer commit
   * was written after it, which bounds how old those commits can be.
   */
  readonly latestAt: number;
  /** False when loaded `withoutTombstones`: fine to read, not to write or vacuum from. */
  tombstonesLoaded = true;

  constructor(store: ObjectStore, state: TableState, checkpointVersion: number | null, latestAt = -Infinity) {
    this.store = store;
    this.state = state;
    this.schema = parseSchemaString(state.metadata.schemaString);
    this.checkpointVersion = checkpointVersion;
    this.latestAt = latestAt;
  }

  get version(): number {
    return this.state.version;
  }
  get metadata(): Metadata {
    return this.state.metadata;
  }
  get protocol(): Protocol {
    return this.state.protocol;
  }
  get partitionColumns(): string[] {
    return this.state.metadata.partitionColumns;
  }
  /** Live data files. */
  files(): Add[] {
    return [...this.state.files.values()];
  }
  /** Last committed version of an application transaction, or undefined. */
  txnVersion(appId: string): number | undefined {
    return this.state.txns.get(appId)?.version;
  }
  txns(): Txn[] {
    return [...this.state.txns.values()];
  }
  tableProperty(key: string): string | undefined {
    return this.state.metadata.configuration[key];
  }
}

export interface LoadOptions {
  /** Time travel: load this version instead of the latest. */
  version?: number;
  /** Skip the reader-feature check (for `describe`, which shows protocol details of any table). */
  skipFeatureCheck?: boolean;
  /**
   * Leave out the checkpoint's tombstones (`remove` rows), which only
   * writers and vacuum need: a reader of a streaming table's checkpoint
   * then decodes its live files only. Such a snapshot is refused by writers
   * and vacuum (`tombstonesLoaded` is false).
   */
  withoutTombstones?: boolean;
}

/** Writers and vacuum need a snapshot's tombstones: refuse one loaded without them. */
export function requireTombstones(snapshot: Snapshot, what: string): void {
  if (!snapshot.tombstonesLoaded) {
    throw new ReddStreamError('USAGE', `${what} needs a snapshot loaded with its tombstones (${snapshot.store.url})`);
  }
}

export async function readLastCheckpoint(store: ObjectStore): Promise<LastCheckpoint | null> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(LAST_CHECKPOINT);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  try {
    const j = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof j?.version !== 'number') return null;
    return j as LastCheckpoint;
  } catch {
    return null; // a corrupt hint is ignored: listing finds the truth
  }
}

/** List `_delta_log/`, starting at the hinted checkpoint when that is enough. */
async function listLog(store: ObjectStore, target: number | undefined) {
  const hint = await readLastCheckpoint(store);
  if (hint && hint.version > 0 && (target === undefined || target >= hint.version)) {
    const entries = await store.list(`${LOG_DIR}/`, { startAfter: `${LOG_DIR}/${padVersion(hint.version - 1)}~` });
    const log = classifyLog(entries);
    if (log.checkpoints.some((c) => c.version <= (target ?? Number.POSITIVE_INFINITY))) return log;
  }
  return classifyLog(await store.list(`${LOG_DIR}/`));
}

export async function readCommit(store: ObjectStore, path: string): Promise<LogAction[]> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(path);
  } catch (err) {
    if (isNotFound(err)) {
      throw new ReddStreamError('CORRUPT_LOG', `commit file ${store.url}/${path} disappeared while reading the log`, {
        cause: err,
      });
    }
    throw err;
  }
  return parseCommit(new TextDecoder().decode(bytes), `${store.url}/${path}`);
}

/** The rows of all parts of a checkpoint, as actions (in no meaningful order). */
export async function readCheckpoint(
  store: ObjectStore,
  cp: CheckpointRef,
  options: { withoutTombstones?: boolean } = {},
): Promise<LogAction[]> {
  const columns = ['protocol', 'metaData', 'add', 'remove', 'txn', 'domainMetadata'].filter(
    (c) => !(options.withoutTombstones && c === 'remove'),
  );
  const actions: LogAction[] = [];
  for (let i = 0; i < cp.paths.length; i++) {
    const path = cp.paths[i];
    const where = `${store.url}/${path}`;
    let rows: Record<string, unknown>[];
    try {
      const pq = await openParquet(store, path, cp.sizes[i]);
      rows = await pq.readRows(columns);
    } catch (err) {
      throw new ReddStreamError('CORRUPT_CHECKPOINT', `cannot read checkpoint ${where}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    for (const row of rows) {
      const a = normaliseAction(row, `checkpoint ${where}`);
      if (a) actions.push(a);
    }
  }
  return actions;
}

async function replaySegment(store: ObjectStore, seg: LogSegment, withoutTombstones = false): Promise<TableState> {
  const b = seg.checkpoint
    ? builderFromCheckpoint(await readCheckpoint(store, seg.checkpoint, { withoutTombstones }), seg.checkpoint.version)
    : emptyBuilder();
  // Fetch commits concurrently (bounded), apply in order.
  const results = await mapLimit(seg.commits, 16, (c) => readCommit(store, c.path));
  for (let i = 0; i < seg.commits.length; i++) applyActions(b, results[i], seg.commits[i].version);
  return finish(b, store.url);
}

/** Load the snapshot of a table at its latest version or at `options.version`. */
export async function loadSnapshot(store: ObjectStore, options: LoadOptions = {}): Promise<Snapshot> {
  const listedAt = Date.now();
  const log = await listLog(store, options.version);
  const seg = planLogSegment(log, store.url, options.version);
  const withoutTombstones = options.withoutTombstones === true && seg.checkpoint !== null;
  const state = await replaySegment(store, seg, withoutTombstones);
  if (!options.skipFeatureCheck) checkReadSupported(state.protocol, state.metadata, store.url);
  const latestAt = seg.version === log.latest ? listedAt : -Infinity;
  const snap = new Snapshot(store, state, seg.checkpoint?.version ?? null, latestAt);
  if (withoutTombstones) snap.tombstonesLoaded = false;
  return snap;
}

/**
 * Bring a snapshot up to date by reading the commits after it, one by one
 * until one is missing (no listing of the whole log).
 *
 * Reading forward is only sound while the commits after the snapshot cannot
 * have been cleaned up: expired log cleanup deletes commits older than
 * `delta.logRetentionDuration`, and every commit after the snapshot was
 * written after `latestAt`. A snapshot not known to be the latest for half
 * the retention (the other half absorbs clock differences between writers
 * and the store) is reloaded by listing instead. Otherwise a writer idle for
 * longer than the retention would take the first deleted commit for the end
 * of the log and write its next commit there, below the newest checkpoint,
 * where no reader looks.
 *
 * `upTo` reads no further than that version (the caller knows it exists).
 */
export async function updateSnapshot(snapshot: Snapshot, upTo?: number): Promise<Snapshot> {
  const store = snapshot.store;
  const startedAt = Date.now();
  if (upTo === undefined && startedAt - snapshot.latestAt > logRetentionMs(snapshot.metadata.configuration) / 2) {
    return loadSnapshot(store);
  }
  // The state is copied only once a newer commit is found (a refresh that finds none makes no garbage).
  let b: ReturnType<typeof builderFrom> | null = null;
  let latestAt = snapshot.latestAt;
  for (let v = snapshot.version + 1; upTo === undefined || v <= upTo; v++) {
    let actions: LogAction[];
    try {
      const bytes = await store.get(`${LOG_DIR}/${padVersion(v)}.json`);
      actions = parseCommit(new TextDecoder().decode(bytes), `${store.url}/${LOG_DIR}/${padVersion(v)}.json`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      latestAt = startedAt;
      break;
    }
    b ??= builderFrom(snapshot.state);
    applyActions(b, actions, v);
  }
  let next: Snapshot;
  if (b === null) {
    if (latestAt === snapshot.latestAt) return snapshot;
    next = new Snapshot(store, snapshot.state, snapshot.checkpointVersion, latestAt);
  } else {
    const state = finish(b, store.url);
    checkReadSupported(state.protocol, state.metadata, store.url);
    next = new Snapshot(store, state, snapshot.checkpointVersion, latestAt);
  }
  next.tombstonesLoaded = snapshot.tombstonesLoaded;
  return next;
}

export interface HistoryEntry {
  version: number;
  timestamp: number | null;
  operation: string | null;
  commitInfo: CommitInfo | null;
  addedFiles: number;
  removedFiles: number;
  addedRows: number | null;
  removedRows: number | null;
  addedBytes: number;
}

/** Commit history, newest first, for versions whose commit files still exist. */
export async function readHistory(store: ObjectStore, limit?: number): Promise<HistoryEntry[]> {
  const log = classifyLog(await store.list(`${LOG_DIR}/`));
  if (log.latest < 0) {
    throw new ReddStreamError(
      'NOT_A_DELTA_TABLE',
      `no Delta table at ${store.url}: _delta_log/ has no commit or checkpoint files`,
    );
  }
  const versions = [...log.commits.keys()].sort((a, b) => b - a).slice(0, limit ?? Number.POSITIVE_INFINITY);
  const lists = await mapLimit(versions, 16, (v) => readCommit(store, log.commits.get(v)!));
  return versions.map((version, i) => {
    const actions = lists[i];
    let commitInfo: CommitInfo | null = null;
    let addedFiles = 0,
      removedFiles = 0,
      addedBytes = 0;
    let addedRows: number | null = 0;
    let removedRows: number | null = 0;
    for (const a of actions) {
      if ('commitInfo' in a) commitInfo = a.commitInfo;
      else if ('add' in a) {
        addedFiles++;
        addedBytes += a.add.size;
        const n = numRecords(a.add.stats);
        addedRows = addedRows === null || n === null ? null : addedRows + n;
      } else if ('remove' in a) {
        removedFiles++;
      }
    }
    const metrics = (commitInfo?.operationMetrics ?? {}) as Record<string, unknown>;
    if (metrics.numDeletedRows !== undefined) removedRows = Number(metrics.numDeletedRows);
    else if (removedFiles > 0) removedRows = null;
    const ts = commitInfo?.timestamp;
    return {
      version,
      timestamp: typeof ts === 'number' ? ts : null,
      operation: typeof commitInfo?.operation === 'string' ? commitInfo.operation : null,
      commitInfo,
      addedFiles,
      removedFiles,
      addedRows,
      removedRows,
      addedBytes,
    };
  });
}

export function numRecords(stats: string | null | undefined): number | null {
  if (!stats) return null;
  try {
    const n = JSON.parse(stats).numRecords;
    return typeof n === 'number' ? n : null;
  } catch {
    return null;
  }
}

export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
