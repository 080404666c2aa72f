/**
 * The CLI as a person uses it: `cat`, `history`, `describe` on real tables, and
 * bad input (corrupt commit, truncated checkpoint, missing data file, not a
 * Delta table) giving one clear error that names the file, never a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { REPO_ROOT, fixtureTable } from '../helpers/fixtures.ts';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function copyFixture(folder: string): string {
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-cli-'));
  fs.cpSync(fixtureTable(folder), dest, { recursive: true });
  for (const p of fs.readdirSync(dest, { recursive: true }) as string[]) fs.chmodSync(path.join(dest, p), 0o755);
  return dest;
}

function assertCleanError(r: ReturnType<typeof cli>, pattern: RegExp) {
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stderr.trim().split('\n').length, 1, 'a single line');
}

describe('reddit-stream cat/history/describe', () => {
  it('cat prints canonical ndjson, csv and an aligned table, with time travel', () => {
    const t = fixtureTable('dat-basic_append');
    const v0 = cli('cat', t, '--version', '0', '--format', 'ndjson');
    assert.equal(v0.code, 0, v0.stderr);
    assert.deepEqual(
      v0.stdout.trim().split('\n').sort(),
      fs.readFileSync(path.join(t, '../../_expected/dat-basic_append/v0.ndjson'), 'utf8').trim().split('\n').sort(),
    );
    const csv = cli('cat', t, '--format', 'csv');
    assert.equal(csv.stdout.split('\n')[0], 'letter,number,a_float');
    assert.equal(csv.stdout.trim().split('\n').length, 6);
    const table = cli('cat', t, '--limit', '2');
    assert.match(table.stdout, /^letter \| number \| a_float\n/);
    assert.match(table.stdout, /\(2 rows\)\n$/);
  });

  it('history lists versions newest first with operations and counts', () => {
    const r = cli('history', fixtureTable('delta-golden-basic-with-inserts-deletes-checkpoint'), '--format', 'ndjson');
    assert.equal(r.code, 0, r.stderr);
    const entries = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      entries.map((e) => e.version),
      Array.from({ length: 14 }, (_, i) => 13 - i),
    );
    assert.ok(entries.some((e) => e.operation === 'DELETE' && e.removedFiles > 0));
  });

  it('describe shows schema, partitions, protocol, files, checkpoint and txns', () => {
    const r = cli('describe', fixtureTable('delta-rs-delta-0.2.0'), '--format', 'json');
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    assert.equal(d.version, 3);
    assert.equal(d.lastCheckpoint, 3);
    assert.equal(d.files, 3);
    assert.deepEqual(d.transactions, [{ appId: 'e4a20b59-dd0e-4c50-b074-e8ae4786df30', version: 0 }]);
    const text = cli('describe', fixtureTable('dat-multi_partitioned'));
    assert.match(text.stdout, /partition columns:\s+letter, date, data/);
    assert.match(text.stdout, /number: long/);
    // describe also shows tables that cannot be read
    const dv = cli('describe', fixtureTable('delta-rs-table-with-dv-small'));
    assert.match(dv.stdout, /reader features deletionVectors/);
  });
});

describe('bad input gives one clear error naming the file', () => {
  it('corrupt commit JSON', () => {
    const t = copyFixture('dat-basic_append');
    fs.writeFileSync(
      path.join(t, '_delta_log/00000000000000000001.json'),
      '{"add": {"path": "x.parquet", "size": 1}}\n{not json',
    );
    assertCleanError(cli('cat', t), /CORRUPT_LOG.*00000000000000000001\.json line 2.*invalid JSON/);
    fs.writeFileSync(path.join(t, '_delta_log/00000000000000000001.json'), '{"add": {"path": 42}}\n');
    assertCleanError(cli('cat', t), /00000000000000000001\.json line 1: field "path" must be a string/);
  });

  it('truncated checkpoint', () => {
    const t = copyFixture('dat-with_checkpoint');
    const cp = path.join(t, '_delta_log/00000000000000000002.checkpoint.parquet');
    fs.truncateSync(cp, Math.floor(fs.statSync(cp).size / 2));
    assertCleanError(cli('cat', t), /CORRUPT_CHECKPOINT.*00000000000000000002\.checkpoint\.parquet/);
  });

  it('missing data file', async () => {
    const t = copyFixture('delta-rs-simple_table');
    const live = (await loadSnapshot(new LocalObjectStore(t))).files()[0];
    fs.rmSync(path.join(t, decodeURIComponent(live.path)));
    assertCleanError(cli('cat', t), /MISSING_DATA_FILE.*part-.*\.parquet/);
  });

  it('a directory that is not a Delta table, and a missing one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-empty-'));
    fs.writeFileSync(path.join(dir, 'data.parquet'), 'x');
    assertCleanError(cli('cat', dir), /NOT_A_DELTA_TABLE.*no Delta table at/);
    assertCleanError(cli('describe', path.join(dir, 'nope')), /NOT_A_DELTA_TABLE/);
    assertCleanError(cli('history', dir), /NOT_A_DELTA_TABLE/);
  });

  it('time travel to a version that does not exist', () => {
    assertCleanError(
      cli('cat', fixtureTable('dat-basic_append'), '--version', '9'),
      /VERSION_NOT_FOUND.*latest version is 1/,
    );
  });

  it('unsupported features are refused by name', () => {
    assertCleanError(
      cli('cat', fixtureTable('delta-rs-table_with_column_mapping')),
      /UNSUPPORTED_FEATURE.*columnMapping/,
    );
  });

  it('usage errors exit 2', () => {
    const r = cli('cat');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing required argument 'table'/);
    assert.equal(cli('cat', 'x', '--limit', 'abc').code, 2);
    // Invalid configuration, from flags as from files, is a usage error too: one line per problem.
    const bad = cli('config', '--batch-size', 'abc', '--processing-interval', '-1');
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /invalid configuration:\n/);
    assert.match(bad.stderr, /\n {2}- flags: batch_size must be an integer >= 1 \(got "abc"\)/);
    assert.match(bad.stderr, /\n {2}- flags: processing_interval must be a number >= 0.01 \(got "-1"\)/);
  });
});
