/**
 * Worker process for test/concurrency/maintenance-crash.test.ts: compacts a
 * local Delta table through a store that pauses `delayMs` before each data
 * file upload and says so on stdout ("uploading <n>"), so the parent can
 * kill it between uploads and the commit.
 *
 *   node optimize-worker.ts <tableDir> <delayMs>
 */
import { DeltaTable, LocalObjectStore } from '../../src/index.ts';
import { optimizeTable } from '../../src/delta/optimize.ts';

const [dir, delayArg] = process.argv.slice(2);
const delayMs = Number(delayArg);
const base = new LocalObjectStore(dir);
let uploads = 0;
const slow = new Proxy(base, {
  get(target, prop, receiver) {
    if (prop === 'put') {
      return async (path: string, data: Uint8Array) => {
        await target.put(path, data);
        if (!path.startsWith('_delta_log/')) {
          process.stdout.write(`uploaded ${++uploads}\n`);
          await new Promise((r) => setTimeout(r, delayMs));
        }
      };
    }
    const v = Reflect.get(target, prop, receiver);
    return typeof v === 'function' ? v.bind(target) : v;
  },
});
const r = await optimizeTable(await DeltaTable.open(slow), { maxRewriteBytes: 16 * 1024 });
process.stdout.write(`${JSON.stringify({ done: r.kind })}\n`);
