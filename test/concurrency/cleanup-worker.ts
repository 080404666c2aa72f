/**
 * Worker process for test/concurrency/maintenance-crash.test.ts: runs one
 * expired log cleanup, or one full vacuum, on a local Delta table through a
 * store that says so on stdout after each deletion ("deleted <n> <path>")
 * and then pauses `delayMs`, so the parent can kill it between deletions.
 *
 *   node cleanup-worker.ts log <tableDir> <delayMs>
 *   node cleanup-worker.ts vacuum <tableDir> <delayMs> <cutoffMs>
 *
 * The vacuum deletes what was removed (or written, for unreferenced files)
 * before `cutoffMs`: a retention of one hour, on a clock one hour past it.
 */
import { LocalObjectStore } from '../../src/index.ts';
import { cleanUpExpiredLogs } from '../../src/delta/log-cleanup.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { vacuum } from '../../src/delta/vacuum.ts';

const [mode, dir, delayArg, cutoffArg] = process.argv.slice(2);
const base = new LocalObjectStore(dir);
let deletions = 0;
const reporting = new Proxy(base, {
  get(target, prop, receiver) {
    if (prop === 'delete') {
      return async (path: string) => {
        await target.delete(path);
        process.stdout.write(`deleted ${++deletions} ${path}\n`);
        await new Promise((r) => setTimeout(r, Number(delayArg)));
      };
    }
    const v = Reflect.get(target, prop, receiver);
    return typeof v === 'function' ? v.bind(target) : v;
  },
});
const snapshot = await loadSnapshot(reporting);
const HOUR = 3_600_000;
const r =
  mode === 'log'
    ? await cleanUpExpiredLogs(reporting, snapshot.metadata.configuration)
    : await vacuum(snapshot, reporting, { full: true, retainHours: 1, force: true, now: Number(cutoffArg) + HOUR });
process.stdout.write(`${JSON.stringify({ done: r })}\n`);
