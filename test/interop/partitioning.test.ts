/**
 * Time-partitioned post tables end to end: real fixture posts loaded with
 * `partition_by: year` land in one partition per year of `created_at`;
 * delta-rs reads the derived column and agrees with it; `query` prunes on
 * it; compaction works per partition and delta-rs reads the result.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { queryLines } from '../../src/cli/query.ts';
import { optimizeTable } from '../../src/delta/optimize.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { silentLogger } from '../../src/logger.ts';
import { runLoad } from '../../src/service/load.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { SHARED } from '../helpers/fixtures.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-partitions-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const POSTS = path.join(SHARED, 'fixtures/reddit/posts.ndjson');
const table = path.join(dir, 'posts');

const READ = `${PY_PRELUDE}
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1]).to_pyarrow_table(columns=['id', 'created_at', 'created_year'])
rows = t.to_pylist()
mismatched = [r['id'] for r in rows
              if r['created_year'] != (None if r['created_at'] is None else r['created_at'].strftime('%Y'))]
emit({'ids': sorted(r['id'] for r in rows), 'mismatched': mismatched,
      'years': sorted({r['created_year'] for r in rows if r['created_year'] is not None})})
`;

/** Live files per partition value of `created_year`. */
function filesPerYear(t: DeltaTable): Map<string | null, number> {
  const m = new Map<string | null, number>();
  for (const f of t.snapshot.files()) {
    const y = f.partitionValues.created_year ?? null;
    m.set(y, (m.get(y) ?? 0) + 1);
  }
  return m;
}

async function count(sql: string, pruned: number[]): Promise<number> {
  const [row] = (await queryLines({ table, sql, format: 'ndjson', onPrune: (_t, _f, p) => pruned.push(p) })).map(
    (l) => JSON.parse(l) as { n: number },
  );
  return Number(row.n);
}

describe('time-partitioned tables', () => {
  it('real posts by year: delta-rs agrees with the derived column, query prunes, compaction is per partition', async () => {
    const [res] = await runLoad({
      files: [POSTS],
      table,
      batchSize: 200,
      unknownFields: 'keep',
      partitionBy: 'year',
      s3For: () => undefined,
      log: silentLogger,
      maintenance: { compact: false },
    });
    const t = await DeltaTable.open(new LocalObjectStore(table));
    assert.deepEqual(t.partitionColumns, ['created_year']);
    const before = filesPerYear(t);
    assert.ok(before.size > 10, `real posts span many years (${before.size} partitions)`);

    const read = runPython(READ, [table]);
    assert.equal(read.ids.length, res.posts, 'delta-rs reads every loaded post');
    assert.equal(new Set(read.ids).size, read.ids.length, 'no post twice');
    assert.deepEqual(read.mismatched, [], 'created_year is the UTC year of created_at');
    assert.deepEqual(read.years, [...before.keys()].filter((y) => y !== null).sort());

    const pruned: number[] = [];
    const year = read.years[Math.floor(read.years.length / 2)];
    const inYear = await count(`SELECT count(*)::BIGINT AS n FROM posts WHERE created_year = '${year}'`, pruned);
    const byTime = await count(
      `SELECT count(*)::BIGINT AS n FROM posts WHERE year(created_at AT TIME ZONE 'UTC') = ${Number(year)}`,
      [],
    );
    assert.equal(inYear, byTime);
    assert.ok(inYear > 0);
    assert.equal(pruned[0], t.snapshot.files().length - before.get(year)!, 'only the files of that year are read');

    const optimized = await optimizeTable(t);
    assert.equal(optimized.kind, 'optimized');
    const after = filesPerYear(t);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'the same partitions');
    assert.ok(
      [...after.values()].every((n) => n === 1),
      'one file per partition after compaction',
    );
    const again = runPython(READ, [table]);
    assert.deepEqual(again.ids, read.ids);
    assert.deepEqual(again.mismatched, []);
  });
});
