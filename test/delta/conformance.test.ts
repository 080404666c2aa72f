/**
 * Reader conformance against the real Delta tables in shared/fixtures/delta:
 * every expected version equals `_expected/<table>/v<N>.ndjson` as a sorted
 * multiset, read through the same code path as `reddit-stream cat --format ndjson`;
 * tables needing unsupported features are refused with an error naming them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { catLines } from '../../src/cli/cat.ts';
import { UnsupportedFeatureError } from '../../src/errors.ts';
import { DELTA_FIXTURES, fixtureTable } from '../helpers/fixtures.ts';

const expectedRoot = path.join(DELTA_FIXTURES, '_expected');
const cases: Array<{ table: string; version: number; file: string }> = [];
for (const table of fs.readdirSync(expectedRoot).sort()) {
  for (const f of fs.readdirSync(path.join(expectedRoot, table))) {
    const m = /^v(\d+)\.ndjson$/.exec(f);
    if (m) cases.push({ table, version: Number(m[1]), file: path.join(expectedRoot, table, f) });
  }
}

async function collect(uri: string, version?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const line of catLines(uri, { version, format: 'ndjson' })) out.push(line);
  return out;
}

describe('conformance with real Delta tables', () => {
  it('has the expected fixtures (26 readable tables)', () => {
    assert.equal(new Set(cases.map((c) => c.table)).size, 26);
  });

  for (const c of cases) {
    it(`${c.table} v${c.version}`, async () => {
      const expected = fs
        .readFileSync(c.file, 'utf8')
        .split('\n')
        .filter((l) => l !== '');
      const actual = await collect(fixtureTable(c.table), c.version);
      const sortBytes = (xs: string[]) =>
        xs
          .map((x) => Buffer.from(x))
          .sort(Buffer.compare)
          .map((b) => b.toString());
      assert.deepEqual(sortBytes(actual), sortBytes(expected));
    });
  }

  const refusals: Array<[string, string[]]> = [
    ['delta-rs-table-with-dv-small', ['deletionVectors']],
    ['delta-rs-table_with_column_mapping', ['columnMapping']],
    ['delta-rs-checkpoint-v2-table', ['v2Checkpoint']],
    [
      'delta-rs-simple_table_features',
      ['readerVersion5', 'blahabl', 'deletionVectors', 'columnMapping', 'v2Checkpoint'],
    ],
  ];
  for (const [table, features] of refusals) {
    it(`refuses ${table} naming ${features.join(', ')}`, async () => {
      await assert.rejects(collect(fixtureTable(table)), (err: unknown) => {
        assert.ok(err instanceof UnsupportedFeatureError, `expected UnsupportedFeatureError, got ${err}`);
        for (const f of features) {
          assert.ok(err.features.includes(f), `features ${err.features} should include ${f}`);
          assert.match(err.message, new RegExp(f));
        }
        return true;
      });
    });
  }
});
