/**
 * Log replay (pure): fold actions, version by version, into the state of the
 * table at a version (PROTOCOL.md "Action Reconciliation").
 *
 * - The newest protocol and metaData win. Only these effective ones are
 *   checked for the fields a snapshot needs, when replay finishes: an
 *   incomplete metaData that a later commit replaces does not matter.
 * - A logical file is identified by its decoded path and the unique id of its
 *   deletion vector (`fileKey`): `a%20b` and `a b` are one file, while the same
 *   path with two deletion vectors is two logical files. An `add` makes a
 *   logical file live, a `remove` makes it a tombstone.
 * - The newest `txn` per appId wins; domain metadata per domain likewise.
 * - Commits apply in order. A checkpoint is a reconciled state whose rows have
 *   no order, so it starts a replay (`builderFromCheckpoint`), and a remove in
 *   it never hides an add of the same checkpoint.
 */
import { ReddStreamError } from '../errors.ts';
import {
  checkMetadata,
  checkProtocol,
  decodeFilePath,
  type Add,
  type DeletionVector,
  type DomainMetadata,
  type LogAction,
  type Metadata,
  type Protocol,
  type Remove,
  type Txn,
} from './actions.ts';

export interface TableState {
  version: number;
  protocol: Protocol;
  metadata: Metadata;
  /** Live logical files by `fileKey`. */
  files: Map<string, Add>;
  /** Removed logical files still within retention, by `fileKey`. */
  tombstones: Map<string, Remove>;
  /** Latest application transaction per appId. */
  txns: Map<string, Txn>;
  domains: Map<string, DomainMetadata>;
}

/** The newest body of a protocol or metaData action and the version that wrote it. */
interface Newest {
  body: object;
  version: number;
}

export interface ReplayBuilder {
  version: number;
  protocol?: Newest;
  metadata?: Newest;
  files: Map<string, Add>;
  tombstones: Map<string, Remove>;
  txns: Map<string, Txn>;
  domains: Map<string, DomainMetadata>;
}

/**
 * PROTOCOL.md "Deletion Vectors", derived field `uniqueId`:
 * `<storageType><pathOrInlineDv>`, followed by `@<offset>` when there is an offset.
 */
export function deletionVectorId(dv: DeletionVector): string {
  const base = `${dv.storageType}${dv.pathOrInlineDv}`;
  return dv.offset === undefined || dv.offset === null ? base : `${base}@${dv.offset}`;
}

/**
 * Key of a logical file: its decoded path, followed by NUL and the deletion
 * vector's unique id when it has one. A file name cannot contain NUL, so
 * distinct logical files have distinct keys.
 */
export function fileKey(f: { path: string; deletionVector?: DeletionVector | null }): string {
  const path = decodeFilePath(f.path);
  return f.deletionVector ? `${path}\u0000${deletionVectorId(f.deletionVector)}` : path;
}

export function emptyBuilder(): ReplayBuilder {
  return { version: -1, files: new Map(), tombstones: new Map(), txns: new Map(), domains: new Map() };
}

export function builderFrom(state: TableState): ReplayBuilder {
  return {
    version: state.version,
    protocol: { body: state.protocol, version: state.version },
    metadata: { body: state.metadata, version: state.version },
    files: new Map(state.files),
    tombstones: new Map(state.tombstones),
    txns: new Map(state.txns),
    domains: new Map(state.domains),
  };
}

/** Apply an action other than add/remove: the newest of each kind wins. */
function applyTableAction(b: ReplayBuilder, a: LogAction, version: number): void {
  if ('metaData' in a) b.metadata = { body: a.metaData, version };
  else if ('protocol' in a) b.protocol = { body: a.protocol, version };
  else if ('txn' in a) b.txns.set(a.txn.appId, a.txn);
  else if ('domainMetadata' in a) {
    if (a.domainMetadata.removed) b.domains.delete(a.domainMetadata.domain);
    else b.domains.set(a.domainMetadata.domain, a.domainMetadata);
  }
}

/** Apply the actions of one commit at `version`, in order. */
export function applyActions(b: ReplayBuilder, actions: Iterable<LogAction>, version: number): void {
  apply(b, actions, version, 'commit');
}

/**
 * Start a replay from the rows of a checkpoint at `version`. The result does
 * not depend on the order of the rows: every add is live, and a remove of the
 * same logical file as an add (which a valid checkpoint does not hold) yields
 * no tombstone.
 */
export function builderFromCheckpoint(actions: Iterable<LogAction>, version: number): ReplayBuilder {
  const b = emptyBuilder();
  apply(b, actions, version, 'checkpoint');
  return b;
}

/** A commit's actions apply in order; a checkpoint's rows have none (see builderFromCheckpoint). */
function apply(b: ReplayBuilder, actions: Iterable<LogAction>, version: number, from: 'commit' | 'checkpoint') {
  for (const a of actions) {
    if ('add' in a) {
      const key = fileKey(a.add);
      b.files.set(key, a.add);
      b.tombstones.delete(key);
    } else if ('remove' in a) {
      const key = fileKey(a.remove);
      if (from === 'commit') b.files.delete(key);
      if (from === 'commit' || !b.files.has(key)) b.tombstones.set(key, a.remove);
    } else {
      applyTableAction(b, a, version);
    }
  }
  b.version = version;
}

/**
 * Finish replay: check the effective protocol and metaData. `where` names the
 * table in errors, which also name the version being loaded and the version
 * whose action is missing or incomplete.
 */
export function finish(b: ReplayBuilder, where: string): TableState {
  if (!b.protocol) {
    throw new ReddStreamError(
      'CORRUPT_LOG',
      `no protocol action found in the log of ${where} up to version ${b.version}`,
    );
  }
  if (!b.metadata) {
    throw new ReddStreamError(
      'CORRUPT_LOG',
      `no metaData action found in the log of ${where} up to version ${b.version}`,
    );
  }
  const at = (kind: string, n: Newest) =>
    `of ${where} at version ${b.version} (the ${kind} action in effect, from version ${n.version})`;
  return {
    version: b.version,
    protocol: checkProtocol(b.protocol.body, at('protocol', b.protocol)),
    metadata: checkMetadata(b.metadata.body, at('metaData', b.metadata)),
    files: b.files,
    tombstones: b.tombstones,
    txns: b.txns,
    domains: b.domains,
  };
}

/** Replay commits from scratch (pure helper for tests and planners). */
export function replay(commits: Array<{ version: number; actions: LogAction[] }>, where = 'table'): TableState {
  const b = emptyBuilder();
  for (const c of commits) applyActions(b, c.actions, c.version);
  return finish(b, where);
}
