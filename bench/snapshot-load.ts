/**
 * Snapshot load time of a streaming-shaped table, with and without the
 * checkpoint's tombstones (what `query` does): N one-row commits with a
 * compaction every 500 (so the checkpoint carries ~N tombstones), then
 * `loadSnapshot` three times each way, interleaved.
 *
 *   node bench/snapshot-load.ts [--commits 5000]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { optimizeTable } from '../src/delta/optimize.ts';
import { field, struct } from '../src/delta/schema.ts';
import { loadSnapshot } from '../src/delta/snapshot.ts';
import { DeltaTable } from '../src/delta/table.ts';
import { LocalObjectStore } from '../src/storage/local.ts';

const { values } = parseArgs({ options: { commits: { type: 'string', default: '5000' } } });
const n = Number(values.commits);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-snapshot-'));
try {
  const store = new LocalObjectStore(dir);
  const table = await DeltaTable.create(store, {
    schema: struct([field('id', 'long'), field('text', 'string')]),
    configuration: { 'delta.checkpointInterval': '100' },
  });
  for (let i = 0; i < n; i++) {
    await table.appendRows([{ id: BigInt(i), text: 'x'.repeat(100) }], { txns: [{ appId: 'bench', version: i }] });
    if (i % 500 === 499) await optimizeTable(table);
  }
  for (const withoutTombstones of [false, true, false, true, false, true]) {
    const t0 = performance.now();
    const s = await loadSnapshot(store, { withoutTombstones });
    const ms = (performance.now() - t0).toFixed(0);
    console.log(
      `${withoutTombstones ? 'without' : 'with   '} tombstones: ${ms} ms (${s.files().length} files, ` +
        `${s.state.tombstones.size} tombstones loaded, checkpoint ${s.checkpointVersion})`,
    );
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
