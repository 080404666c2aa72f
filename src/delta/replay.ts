/**
 * Log replay (pure): fold actions, version by version, into the state of the
 * table at a version. The newest protocol and metaData win; an `add` makes a
 * file live, a `remove` makes it a tombstone; the newest `txn` per appId wins.
 * Files are keyed by their decoded path, so `a%20b` and `a b` are one file.
 */
import { ReddStreamError } from '../errors.ts';
import {
  decodeFilePath,
  type Action,
  type Add,
  type DomainMetadata,
  type Metadata,
  type Protocol,
  type Remove,
  type Txn,
} from './actions.ts';

export interface TableState {
  version: number;
  protocol: Protocol;
  metadata: Metadata;
  /** Live data files by decoded path. */
  files: Map<string, Add>;
  /** Removed files still within retention, by decoded path. */
  tombstones: Map<string, Remove>;
  /** Latest application transaction per appId. */
  txns: Map<string, Txn>;
  domains: Map<string, DomainMetadata>;
}

export interface ReplayBuilder {
  version: number;
  protocol?: Protocol;
  metadata?: Metadata;
  files: Map<string, Add>;
  tombstones: Map<string, Remove>;
  txns: Map<string, Txn>;
  domains: Map<string, DomainMetadata>;
}

export function emptyBuilder(): ReplayBuilder {
  return { version: -1, files: new Map(), tombstones: new Map(), txns: new Map(), domains: new Map() };
}

export function builderFrom(state: TableState): ReplayBuilder {
  return {
    version: state.version,
    protocol: state.protocol,
    metadata: state.metadata,
    files: new Map(state.files),
    tombstones: new Map(state.tombstones),
    txns: new Map(state.txns),
    domains: new Map(state.domains),
  };
}

/** Apply the actions of one commit (or one checkpoint) at `version`. */
export function applyActions(b: ReplayBuilder, actions: Iterable<Action>, version: number): void {
  for (const a of actions) {
    if ('add' in a) {
      const key = decodeFilePath(a.add.path);
      b.files.set(key, a.add);
      b.tombstones.delete(key);
    } else if ('remove' in a) {
      const key = decodeFilePath(a.remove.path);
      b.files.delete(key);
      b.tombstones.set(key, a.remove);
    } else if ('metaData' in a) {
      b.metadata = a.metaData;
    } else if ('protocol' in a) {
      b.protocol = a.protocol;
    } else if ('txn' in a) {
      b.txns.set(a.txn.appId, a.txn);
    } else if ('domainMetadata' in a) {
      if (a.domainMetadata.removed) b.domains.delete(a.domainMetadata.domain);
      else b.domains.set(a.domainMetadata.domain, a.domainMetadata);
    }
  }
  b.version = version;
}

/** Finish replay; `where` names the table in the error when protocol or metaData is missing. */
export function finish(b: ReplayBuilder, where: string): TableState {
  if (!b.protocol)
    throw new ReddStreamError(
      'CORRUPT_LOG',
      `no protocol action found in the log of ${where} up to version ${b.version}`,
    );
  if (!b.metadata)
    throw new ReddStreamError(
      'CORRUPT_LOG',
      `no metaData action found in the log of ${where} up to version ${b.version}`,
    );
  return {
    version: b.version,
    protocol: b.protocol,
    metadata: b.metadata,
    files: b.files,
    tombstones: b.tombstones,
    txns: b.txns,
    domains: b.domains,
  };
}

/** Replay from scratch (pure helper for tests and planners). */
export function replay(commits: Array<{ version: number; actions: Action[] }>, where = 'table'): TableState {
  const b = emptyBuilder();
  for (const c of commits) applyActions(b, c.actions, c.version);
  return finish(b, where);
}
