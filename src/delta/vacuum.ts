/**
 * VACUUM: delete data files the table no longer needs.
 *
 * Invariants:
 * - Never deleted: a file the latest snapshot reads, a file removed less
 *   than the retention ago (`delta.deletedFileRetentionDuration`, default 7
 *   days: versions inside it may be read by time travel), and a file younger
 *   than the retention (a concurrent writer's commit in flight may be about
 *   to reference it).
 * - Default mode deletes the files whose removal is older than the retention
 *   (the tombstones of the latest snapshot). Full mode lists the table and
 *   also deletes files no version references (left by crashed writers, or
 *   removed so long ago that checkpoints no longer carry their tombstones),
 *   when they are older than the retention.
 * - A retention shorter than the table's is refused unless forced.
 * - Log files (`_delta_log/`) and hidden paths (`_x`, `.x`) are never touched.
 */
import { ReddStreamError } from '../errors.ts';
import type { ObjectMeta, ObjectStore } from '../storage/object-store.ts';
import { LOG_DIR } from './log-path.ts';
import { tombstoneRetentionMs } from './retention.ts';
import { checkWriteSupported } from './features.ts';
import { requireTombstones, type Snapshot } from './snapshot.ts';

export interface VacuumOptions {
  /** Retention in hours (default: the table's). */
  retainHours?: number;
  /** Allow a retention shorter than the table's. */
  force?: boolean;
  /** Also delete unreferenced files found by listing the table. */
  full?: boolean;
  /** List what would be deleted, delete nothing. */
  dryRun?: boolean;
  now?: number;
}

export interface VacuumResult {
  files: string[];
  bytes: number;
  dryRun: boolean;
  retentionMs: number;
}

/** Whether a path is a data file a vacuum may consider (not the log, not hidden). */
export function isDataPath(path: string): boolean {
  return !path.startsWith(`${LOG_DIR}/`) && !path.split('/').some((p) => p.startsWith('_') || p.startsWith('.'));
}

/**
 * The files to delete (pure): expired tombstones, and in full mode every
 * listed data file that the snapshot neither reads nor remembers removing,
 * older than the cutoff.
 */
export function planVacuum(
  snapshot: Pick<Snapshot, 'state'>,
  listing: ObjectMeta[] | null,
  cutoff: number,
): Array<{ path: string; size: number }> {
  const live = new Set([...snapshot.state.files.values()].map((a) => decode(a.path)));
  const tombstones = new Map([...snapshot.state.tombstones.values()].map((r) => [decode(r.path), r]));
  const out = new Map<string, number>();
  for (const [path, r] of tombstones) {
    if (!live.has(path) && (r.deletionTimestamp ?? 0) < cutoff) out.set(path, r.size ?? 0);
  }
  for (const o of listing ?? []) {
    if (!isDataPath(o.path) || live.has(o.path) || o.lastModified.getTime() >= cutoff) continue;
    const r = tombstones.get(o.path);
    if (!r || (r.deletionTimestamp ?? 0) < cutoff) out.set(o.path, o.size);
  }
  if (listing) {
    // Only what exists: expired tombstones of files already gone are not deleted again.
    const present = new Set(listing.map((o) => o.path));
    for (const p of [...out.keys()]) if (!present.has(p)) out.delete(p);
  }
  return [...out].map(([path, size]) => ({ path, size })).sort((a, b) => (a.path < b.path ? -1 : 1));
}

const decode = (p: string) => decodeURIComponent(p);

/** Vacuum the table of `snapshot` (its latest version: load it just before). */
export async function vacuum(snapshot: Snapshot, store: ObjectStore, o: VacuumOptions = {}): Promise<VacuumResult> {
  requireTombstones(snapshot, 'vacuum');
  // Files of features this writer does not know (deletion vectors...) would look unreferenced.
  checkWriteSupported(snapshot.protocol, snapshot.metadata, snapshot.schema, store.url);
  const tableRetention = tombstoneRetentionMs(snapshot.metadata.configuration);
  const retentionMs = o.retainHours === undefined ? tableRetention : o.retainHours * 3_600_000;
  if (retentionMs < tableRetention && !o.force) {
    throw new ReddStreamError(
      'USAGE',
      `a retention of ${o.retainHours} hours is shorter than the table's ${tableRetention / 3_600_000} hours (delta.deletedFileRetentionDuration): versions inside it could lose files; pass --force if no reader or writer needs them`,
    );
  }
  const cutoff = (o.now ?? Date.now()) - retentionMs;
  const listing = o.full ? await store.list('') : null;
  const plan = planVacuum(snapshot, listing, cutoff);
  if (!o.dryRun) for (const f of plan) await store.delete(f.path);
  return {
    files: plan.map((f) => f.path),
    bytes: plan.reduce((n, f) => n + f.size, 0),
    dryRun: o.dryRun ?? false,
    retentionMs,
  };
}
