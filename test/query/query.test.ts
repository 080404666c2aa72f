/**
 * `reddit-stream query`: DuckDB over the snapshot's live files agrees with
 * delta-rs + Polars on the same tables; file pruning by partition values and
 * stats skips files without changing results; time travel.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { queryLines } from '../../src/cli/query.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { extractPredicates, fileMayMatch } from '../../src/query/prune.ts';
import { pruneQueryCache } from '../../src/query/duckdb.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { REPO_ROOT, SHARED, fixtureTable } from '../helpers/fixtures.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rs-query-'));

async function q(opts: Parameters<typeof queryLines>[0]) {
  return (await queryLines({ ...opts, format: 'ndjson' })).map((l) => JSON.parse(l));
}

describe('query', () => {
  it('agrees with delta-rs + Polars on tables loaded from real posts', async () => {
    const dir = tmp();
    const root = path.join(dir, 'lake');
    const r = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'src/cli/main.ts'),
        'load',
        path.join(SHARED, 'fixtures/reddit/posts.ndjson'),
        '--root',
        root,
        '--batch-size',
        '300',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const ours = await q({
      root,
      sql: 'SELECT count(*)::BIGINT AS n, sum(score)::BIGINT AS score, count(DISTINCT id)::BIGINT AS ids, max(created_utc) AS newest, sum(CASE WHEN edited THEN 1 ELSE 0 END)::BIGINT AS edited FROM askreddit',
    });
    const py = runPython(
      PY_PRELUDE +
        `
import polars as pl
df = pl.read_delta(sys.argv[1])
emit({'n': df.height, 'score': int(df['score'].sum()), 'ids': df['id'].n_unique(), 'newest': float(df['created_utc'].max()), 'edited': int(df['edited'].cast(pl.Int64).sum())})
`,
      [path.join(root, 'askreddit')],
    );
    assert.deepEqual(
      {
        ...ours[0],
        n: Number(ours[0].n),
        score: Number(ours[0].score),
        ids: Number(ours[0].ids),
        edited: Number(ours[0].edited),
      },
      py,
    );
    assert.ok(py.n > 100);

    const bySub = await q({
      root,
      sql: "SELECT 'pics' AS t, count(*)::BIGINT AS n FROM pics UNION ALL SELECT 'videos', count(*)::BIGINT FROM videos ORDER BY t",
    });
    const dr = runPython(
      PY_PRELUDE +
        `
from deltalake import DeltaTable
emit([{'t': t, 'n': DeltaTable(sys.argv[1] + '/' + t).to_pyarrow_table().num_rows} for t in ['pics', 'videos']])
`,
      [root],
    );
    assert.deepEqual(
      bySub.map((x) => ({ t: x.t, n: Number(x.n) })),
      dr,
    );
  });

  it('does not take a zone offset from a TIMESTAMP (no time zone) literal, which DuckDB ignores', () => {
    const cmp = (text: string, id: string) => ({
      class: 'COMPARISON',
      type: 'COMPARE_LESSTHAN',
      left: { class: 'COLUMN_REF', column_names: ['ts'] },
      right: {
        class: 'CAST',
        try_cast: false,
        cast_type: { id },
        child: { class: 'CONSTANT', value: { type: { id: 'VARCHAR' }, is_null: false, value: text } },
      },
    });
    const ast = (where: unknown) => ({
      error: false,
      statements: [
        { node: { type: 'SELECT_NODE', from_table: { type: 'BASE_TABLE', table_name: 't' }, where_clause: where } },
      ],
    });
    assert.deepEqual(extractPredicates(ast(cmp('2024-01-01 13:00:00+02:00', 'TIMESTAMP')))!.predicates, []);
    assert.deepEqual(extractPredicates(ast(cmp('2024-01-01 13:00:00', 'TIMESTAMP')))!.predicates, [
      { column: 'ts', op: '<', value: '2024-01-01 13:00:00' },
    ]);
    assert.deepEqual(extractPredicates(ast(cmp('2024-01-01 13:00:00+02:00', 'TIMESTAMP WITH TIME ZONE')))!.predicates, [
      { column: 'ts', op: '<', value: '2024-01-01 13:00:00+02:00' },
    ]);
  });

  it('prunes files by stats and partition values without changing the result, and time-travels', async () => {
    const dir = tmp();
    const store = new LocalObjectStore(path.join(dir, 'scores'));
    const t = await DeltaTable.create(store, {
      schema: struct([field('id', 'long'), field('day', 'date'), field('score', 'long'), field('title', 'string')]),
      partitionColumns: ['day'],
    });
    for (let b = 0; b < 6; b++) {
      await t.appendRows(
        Array.from({ length: 50 }, (_, i) => ({
          id: BigInt(b * 50 + i),
          day: 20000 + (b % 3),
          score: BigInt(b * 1000 + i),
          title: `t${b}`,
        })),
      );
    }
    const table = path.join(dir, 'scores');
    const pruned: number[] = [];
    const res = await q({
      table,
      sql: 'SELECT count(*)::BIGINT AS n FROM scores WHERE score >= 4000',
      onPrune: (_n, _f, p) => pruned.push(p),
    });
    assert.equal(Number(res[0].n), 100);
    assert.equal(pruned[0], 4);
    const byDay = await q({
      table,
      sql: "SELECT count(*)::BIGINT AS n FROM scores WHERE day = DATE '2024-10-04'",
      onPrune: (_n, _f, p) => pruned.push(p),
    });
    assert.equal(Number(byDay[0].n), 100);
    assert.equal(pruned[1], 4);
    const v2 = await q({ table, version: 2, sql: 'SELECT count(*)::BIGINT AS n FROM scores' });
    assert.equal(Number(v2[0].n), 100);
    // an OR is not understood by the pruner: nothing pruned, same answer
    const or = await q({
      table,
      sql: 'SELECT count(*)::BIGINT AS n FROM scores WHERE score >= 4000 OR id = 1',
      onPrune: (_n, _f, p) => pruned.push(p),
    });
    assert.equal(Number(or[0].n), 101);
    assert.equal(pruned[2], 0);
    // Literals as DuckDB compares them: decimals (unscaled value + scale), casts that change the value.
    for (const [sql, n] of [
      ['score >= 4000.5', 99],
      ['score = 4001.0', 1],
      ['score = 4000.6::BIGINT', 1],
      ["day >= CAST('2024-10-05' AS DATE)", 200],
      ['score < -0.5', 0],
    ] as const) {
      const r = await q({ table, sql: `SELECT count(*)::BIGINT AS n FROM scores WHERE ${sql}` });
      assert.equal(Number(r[0].n), n, sql);
    }
    // Columns renamed by an alias list are not matched to the real columns' stats.
    const renamed = await q({
      table,
      sql: 'SELECT count(*)::BIGINT AS n FROM scores AS x(score, id) WHERE score < 100',
    });
    assert.equal(Number(renamed[0].n), 100);
    // A date column against a timestamp: DuckDB compares at the date's midnight (not by the timestamp's day).
    const mixed = await q({
      table,
      sql: "SELECT count(*)::BIGINT AS n FROM scores WHERE day < TIMESTAMP '2024-10-04 12:00:00'",
    });
    assert.equal(Number(mixed[0].n), 100);
    // A table read again in a subquery, or through a table function, is not pruned by the outer WHERE.
    const viaFunction = await q({
      table,
      sql: "SELECT (SELECT count(*) FROM query_table('scores'))::BIGINT AS total, count(*)::BIGINT AS n FROM scores WHERE score >= 4000",
    });
    assert.deepEqual([Number(viaFunction[0].total), Number(viaFunction[0].n)], [300, 100]);
    const twice = await q({
      table,
      sql: 'SELECT (SELECT count(*) FROM scores)::BIGINT AS total, count(*)::BIGINT AS n FROM scores WHERE score >= 4000',
    });
    assert.deepEqual([Number(twice[0].total), Number(twice[0].n)], [300, 100]);
  });

  it('reads real tables from other writers (removed files excluded, evolved schemas)', async () => {
    const rows = await q({
      table: fixtureTable('delta-golden-basic-with-inserts-deletes-checkpoint'),
      sql: 'SELECT count(*)::BIGINT AS n FROM "delta-golden-basic-with-inserts-deletes-checkpoint"',
    });
    assert.equal(Number(rows[0].n), 41);
    const evolved = await q({
      table: fixtureTable('delta-golden-time-travel-schema-changes-b'),
      sql: 'SELECT count(*)::BIGINT AS n, count(part)::BIGINT AS parts FROM "delta-golden-time-travel-schema-changes-b"',
    });
    assert.deepEqual(
      evolved.map((r) => [Number(r.n), Number(r.parts)]),
      [[20, 10]],
    );
    const parts = await q({
      table: fixtureTable('dat-multi_partitioned'),
      sql: 'SELECT letter, date, number FROM delta ORDER BY number',
    });
    assert.deepEqual(parts, [
      { letter: '/%20%f', date: '1970-01-01', number: '6' },
      { letter: 'b', date: '1970-01-01', number: '7' },
    ]);
  });

  it('gives clear errors', async () => {
    await assert.rejects(
      queryLines({ root: tmp(), sql: 'SELECT * FROM nope' }),
      /query failed: .*nope.*tables: none found/,
    );
    await assert.rejects(queryLines({ sql: 'SELECT 1' }), /exactly one of --root/);
  });
});

describe('prune (pure)', () => {
  it('extracts conjunctive comparisons of a single-table SELECT', () => {
    const ast = {
      error: false,
      statements: [
        {
          node: {
            type: 'SELECT_NODE',
            from_table: { type: 'BASE_TABLE', table_name: 't' },
            where_clause: {
              class: 'CONJUNCTION',
              type: 'CONJUNCTION_AND',
              children: [
                {
                  class: 'COMPARISON',
                  type: 'COMPARE_GREATERTHAN',
                  left: { class: 'CONSTANT', value: { is_null: false, value: 5 } },
                  right: { class: 'COLUMN_REF', column_names: ['t', 'score'] },
                },
                {
                  class: 'COMPARISON',
                  type: 'COMPARE_EQUAL',
                  left: { class: 'COLUMN_REF', column_names: ['sub'] },
                  right: { class: 'CONSTANT', value: { type: { id: 'VARCHAR' }, is_null: false, value: 'x' } },
                },
              ],
            },
          },
        },
      ],
    };
    assert.deepEqual(extractPredicates(ast), {
      table: 't',
      predicates: [
        { column: 'score', op: '<', value: 5 },
        { column: 'sub', op: '=', value: 'x' },
      ],
    });
  });

  it('keeps files whose stats cannot exclude a match, including timestamp max truncated to ms', () => {
    const schema = struct([field('ts', 'timestamp'), field('n', 'long')]);
    const add = {
      path: 'f',
      partitionValues: {},
      size: 1,
      modificationTime: 0,
      dataChange: true,
      stats: JSON.stringify({
        numRecords: 1,
        minValues: { ts: '2026-01-01T00:00:00.000Z', n: 5 },
        maxValues: { ts: '2026-01-01T00:00:00.000Z', n: 9 },
        nullCount: {},
      }),
    };
    assert.equal(fileMayMatch(add, [{ column: 'ts', op: '>', value: '2026-01-01 00:00:00.000500' }], schema, []), true);
    assert.equal(fileMayMatch(add, [{ column: 'ts', op: '>', value: '2026-01-01 00:00:01' }], schema, []), false);
    assert.equal(fileMayMatch(add, [{ column: 'n', op: '=', value: 10 }], schema, []), false);
    assert.equal(fileMayMatch(add, [{ column: 'n', op: '<=', value: 5 }], schema, []), true);
    assert.equal(fileMayMatch({ ...add, stats: undefined }, [{ column: 'n', op: '=', value: 10 }], schema, []), true);
    // Longs beyond 2^53 round as JS numbers: 9007199254740993 parses as ...992, and must not be excluded by "> ...992".
    const big = {
      ...add,
      stats: '{"numRecords":1,"minValues":{"n":9007199254740993},"maxValues":{"n":9007199254740993},"nullCount":{}}',
    };
    assert.equal(fileMayMatch(big, [{ column: 'n', op: '>', value: '9007199254740992' }], schema, []), true);
    assert.equal(fileMayMatch(big, [{ column: 'n', op: '=', value: 9007199254740992 }], schema, []), true);
    assert.equal(
      fileMayMatch(big, [{ column: 'n', op: '<', value: 1000 }], schema, []),
      false,
      'far apart still prunes',
    );
    const dec = struct([field('d', { kind: 'decimal', precision: 38, scale: 18 })]);
    const decAdd = {
      ...add,
      stats:
        '{"numRecords":1,"minValues":{"d":0.10000000000000000001},"maxValues":{"d":0.10000000000000000001},"nullCount":{}}',
    };
    assert.equal(fileMayMatch(decAdd, [{ column: 'd', op: '>', value: '0.1' }], dec, []), true);
  });
});

describe('query cache', () => {
  it('evicts the least recently used cached files beyond the limit, never those in use or just used', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-qcache-'));
    try {
      const hour = 3600_000;
      const mk = (name: string, ageMs: number) => {
        const p = path.join(dir, `${name}.parquet`);
        fs.writeFileSync(p, new Uint8Array(1000));
        const t = new Date(Date.now() - ageMs);
        fs.utimesSync(p, t, t);
        return p;
      };
      mk('a', 5 * hour);
      const inUse = mk('b', 4 * hour);
      mk('c', 3 * hour);
      mk('e', 2 * hour);
      mk('f', 1.5 * hour);
      mk('d', 60_000);
      fs.writeFileSync(path.join(dir, 'other.txt'), 'not ours');
      // 6000 bytes cached, limit 3500: a, c and e go (oldest first); b is in use, d was used a minute ago.
      assert.equal(await pruneQueryCache(dir, 3500, new Set([inUse])), 3000);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['b.parquet', 'd.parquet', 'f.parquet', 'other.txt']);
      assert.equal(await pruneQueryCache(dir, 1_000_000), 0, 'under the limit: nothing deleted');
      assert.equal(await pruneQueryCache(path.join(dir, 'missing'), 0), 0, 'no cache dir: nothing to do');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
