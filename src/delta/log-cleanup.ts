/**
 * Expired log cleanup (PROTOCOL.md, "Metadata Cleanup"): the log files of
 * versions older than `delta.logRetentionDuration` (default 30 days) are
 * deleted once a checkpoint at or before the cutoff makes them unnecessary.
 *
 * Invariants:
 * - Only files of versions below the newest checkpoint C whose file is older
 *   than the cutoff are deleted, and only those older than the cutoff
 *   themselves: every version from C on stays reconstructible, and so does
 *   every version committed inside the retention (C is at or before them).
 * - A version before C is refused afterwards as `VERSION_NOT_FOUND` (its
 *   history was cleaned up), never read wrongly.
 * - `delta.enableExpiredLogCleanup = false` turns it off.
 * - Deleting oldest first, a crash leaves a log that still starts with a
 *   complete prefix of what is kept.
 */
import type { ObjectMeta, ObjectStore } from '../storage/object-store.ts';
import { LOG_DIR, parseLogPath } from './log-path.ts';
import { logRetentionMs } from './retention.ts';

export interface LogCleanupPlan {
  /** The checkpoint every kept version is rebuilt from (null: none old enough, nothing to delete). */
  checkpointVersion: number | null;
  delete: ObjectMeta[];
}

/** What to delete from a log listing (pure). `cutoff` is a time in ms. */
export function planLogCleanup(log: ObjectMeta[], cutoff: number): LogCleanupPlan {
  const parsed = log.map((o) => ({ o, f: parseLogPath(o.path, o.size) }));
  let checkpoint: number | null = null;
  for (const { o, f } of parsed) {
    if (f.kind !== 'checkpoint' || o.lastModified.getTime() > cutoff) continue;
    if (
      f.parts > 1 &&
      !completeMultipart(
        parsed.map((p) => p.f),
        f.version,
        f.parts,
      )
    ) {
      continue;
    }
    if (checkpoint === null || f.version > checkpoint) checkpoint = f.version;
  }
  if (checkpoint === null) return { checkpointVersion: null, delete: [] };
  const old = parsed.filter(({ o, f }) => {
    if (f.kind === 'other' || o.lastModified.getTime() > cutoff) return false;
    return f.version < checkpoint;
  });
  old.sort((a, b) => ('version' in a.f ? a.f.version : 0) - ('version' in b.f ? b.f.version : 0));
  return { checkpointVersion: checkpoint, delete: old.map((x) => x.o) };
}

function completeMultipart(files: ReturnType<typeof parseLogPath>[], version: number, parts: number): boolean {
  const have = new Set(files.flatMap((f) => (f.kind === 'checkpoint' && f.version === version ? [f.part] : [])));
  return have.size === parts;
}

/** Delete the expired log files of the table in `store` (see the module's invariants). */
export async function cleanUpExpiredLogs(
  store: ObjectStore,
  configuration: Record<string, string>,
  now = Date.now(),
): Promise<{ deleted: number; bytes: number; checkpointVersion: number | null }> {
  if (configuration['delta.enableExpiredLogCleanup']?.toLowerCase() === 'false') {
    return { deleted: 0, bytes: 0, checkpointVersion: null };
  }
  const plan = planLogCleanup(await store.list(`${LOG_DIR}/`), now - logRetentionMs(configuration));
  for (const o of plan.delete) await store.delete(o.path);
  const bytes = plan.delete.reduce((n, o) => n + o.size, 0);
  return { deleted: plan.delete.length, bytes, checkpointVersion: plan.checkpointVersion };
}
