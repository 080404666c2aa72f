/**
 * Committing: write `_delta_log/<version>.json` with put-if-absent.
 *
 * Invariants:
 * - A version is written exactly once (put-if-absent); a lost race never
 *   overwrites the winner.
 * - After a lost race we read the winning commit(s) and look for real
 *   conflicts: a metaData or protocol change, a `txn` for one of our appIds
 *   (another writer advanced the same application, e.g. took over a Kafka
 *   partition), or a removal of a file we also remove. A real conflict is
 *   returned as a value (`{ kind: 'conflict' }`) and nothing is written.
 *   Otherwise (blind appends) we retry at the next version.
 * - `commitInfo.readVersion` records the snapshot the commit was planned on.
 * - `commitInfo.txnId` is unique per commit: a put-if-absent that reports
 *   "exists" for a commit that is ours (an S3 PUT that landed, whose reply was
 *   lost, retried by the SDK and answered 412) is recognised as committed,
 *   not taken for a lost race (which would delete the files it references).
 */
import { randomUUID } from 'node:crypto';
import { ReddStreamError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { decodeFilePath, serializeCommit, type Action, type LogAction, type Txn } from './actions.ts';
import { commitPath } from './log-path.ts';
import { readCommit } from './snapshot.ts';

export type CommitResult =
  | { kind: 'committed'; version: number; attempts: number }
  | { kind: 'conflict'; version: number; reason: string; winningTxns: Txn[] };

export interface CommitOptions {
  /** Give up after this many lost races without a real conflict (default 100). */
  maxAttempts?: number;
  /** Called after each lost race (for logging/metrics). */
  onRetry?: (version: number, attempt: number) => void;
}

/**
 * Why the actions of `ours` cannot be committed after `winner`, or null when
 * they still can (pure).
 */
export function findConflict(ours: Action[], winner: LogAction[]): { reason: string; winningTxns: Txn[] } | null {
  const ourApps = new Set<string>();
  const ourRemoves = new Set<string>();
  let weChangeMetadata = false;
  for (const a of ours) {
    if ('txn' in a) ourApps.add(a.txn.appId);
    else if ('remove' in a) ourRemoves.add(decodeFilePath(a.remove.path));
    else if ('metaData' in a || 'protocol' in a) weChangeMetadata = true;
  }
  const winningTxns: Txn[] = [];
  for (const a of winner) {
    if ('metaData' in a) {
      return { reason: 'a concurrent commit changed the table metadata (schema or properties)', winningTxns };
    }
    if ('protocol' in a) return { reason: 'a concurrent commit changed the table protocol', winningTxns };
    if ('txn' in a && ourApps.has(a.txn.appId)) winningTxns.push(a.txn);
    if ('remove' in a && ourRemoves.has(decodeFilePath(a.remove.path))) {
      return { reason: `a concurrent commit already removed ${a.remove.path}`, winningTxns };
    }
  }
  if (winningTxns.length > 0) {
    return {
      reason: `a concurrent commit advanced application transaction(s) ${winningTxns.map((t) => `${t.appId}=${t.version}`).join(', ')}`,
      winningTxns,
    };
  }
  if (weChangeMetadata && winner.some((a) => 'add' in a || 'remove' in a)) {
    return { reason: 'a concurrent commit wrote data while this commit changes the metadata', winningTxns };
  }
  return null;
}

/**
 * Commit `actions` (without commitInfo) on top of `readVersion`
 * (-1 creates the table). `commitInfo` is added with timestamp and readVersion.
 */
export async function commit(
  store: ObjectStore,
  readVersion: number,
  actions: Action[],
  commitInfo: Record<string, unknown>,
  options: CommitOptions = {},
): Promise<CommitResult> {
  const maxAttempts = options.maxAttempts ?? 100;
  // Always ours (never the caller's): it must be unique to this commit.
  const txnId = randomUUID();
  let version = readVersion + 1;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const info: Record<string, unknown> = { timestamp: Date.now(), ...commitInfo, txnId };
    if (readVersion >= 0) info.readVersion = readVersion;
    const bytes = serializeCommit([{ commitInfo: info }, ...actions]);
    if (await store.putIfAbsent(commitPath(version), bytes)) return { kind: 'committed', version, attempts: attempt };
    const winner = await readCommit(store, commitPath(version));
    if (winner.some((a) => 'commitInfo' in a && a.commitInfo.txnId === txnId)) {
      return { kind: 'committed', version, attempts: attempt };
    }
    if (version === 0) {
      return {
        kind: 'conflict',
        version: 0,
        reason: 'the table was created concurrently by another writer',
        winningTxns: [],
      };
    }
    options.onRetry?.(version, attempt);
    const conflict = findConflict(actions, winner);
    if (conflict) return { kind: 'conflict', version, ...conflict };
    version++;
  }
  throw new ReddStreamError(
    'COMMIT_FAILED',
    `gave up committing to ${store.url} after ${maxAttempts} lost races (the table is under heavy concurrent writes)`,
  );
}
