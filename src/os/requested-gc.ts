/**
 * Requested garbage collections for a service process (`consume`, `demo`).
 * Fetched message bytes that outlive a scavenge are otherwise freed only
 * when V8's external memory has grown by about 64 MB; asking for a major GC
 * after every `everyBytes` polled trades some throughput for a lower peak
 * RSS (the README's Performance section has the measurements).
 *
 * V8's `gc` is exposed at run time (`--expose-gc` through
 * v8.setFlagsFromString, then taken from a new context: this context's
 * globals are untouched, but the flag is process-wide, so contexts and worker
 * threads made later see a `gc` global) and asked for a full, atomic
 * mark-compact run from a task (`execution: 'async'`). Where V8 refuses the
 * flag, V8 decides alone (more memory, same results).
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** Bytes polled between requested GCs (`gc_every_bytes`; 0: none). */
export const GC_EVERY_BYTES = 24 << 20;

/** Requests are made only while the process's RSS is at least this. */
export const GC_ABOVE_RSS_BYTES = 180e6;

type MajorGc = (o: { type: 'major'; execution: 'async' }) => unknown;

export interface RequestedGc {
  everyBytes: number;
  collect: () => void;
}

/** `gc` and `rss` can be given (tests). */
export function garbageCollection(
  everyBytes = GC_EVERY_BYTES,
  o: { aboveRssBytes?: number; rss?: () => number; gc?: MajorGc } = {},
): RequestedGc | undefined {
  if (!(everyBytes > 0)) return undefined;
  const gc = o.gc ?? exposeGc();
  if (typeof gc !== 'function') return undefined;
  const rss = o.rss ?? process.memoryUsage.rss;
  const above = o.aboveRssBytes ?? GC_ABOVE_RSS_BYTES;
  return {
    everyBytes,
    collect: () => {
      if (rss() >= above) void gc({ type: 'major', execution: 'async' });
    },
  };
}

function exposeGc(): unknown {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc');
  } catch {
    return undefined;
  }
}
