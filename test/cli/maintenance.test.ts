/**
 * `load` with one commit per post compacts its table by itself; `optimize`,
 * `vacuum` and `describe` as a person uses them, including a refused short
 * retention and a dry run that lists without deleting.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { REPO_ROOT } from '../helpers/fixtures.ts';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-cli-maint-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('maintenance from the command line', () => {
  const posts = path.join(dir, 'posts.ndjson');
  const table = path.join(dir, 'lake', 'tech');

  it('load with one commit per post compacts the table as it goes', () => {
    assert.equal(cli('generate', '--count', '130', '--seed', '5', '--subreddits', 'tech', '--out', posts).code, 0);
    const r = cli('load', posts, '--table', table, '--batch-size', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /compacted .*files_in=\d+ files_out=\d+/);
  });

  it('describe, optimize and describe again: every row kept, small files compacted', async () => {
    const before = await loadSnapshot(new LocalObjectStore(table));
    assert.ok(before.files().length < 130, `automatic compaction ran (${before.files().length} files)`);
    assert.match(cli('describe', table).stdout, /small files: +\d+/);
    const r = cli('optimize', table);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tech: version \d+: \d+ files .* -> 1 .*130 rows|tech: nothing to compact/);
    const snap = await loadSnapshot(new LocalObjectStore(table));
    assert.equal(snap.files().length, 1);
    assert.equal(new Set((await readAllRows(snap)).map((x) => x.id)).size, 130);
    assert.match(cli('describe', table).stdout, /small files: +1 .*\n.*\n.*\nlast compaction: +version \d+/);
    assert.match(cli('optimize', '--root', path.join(dir, 'lake')).stdout, /tech: nothing to compact/);
  });

  it('vacuum keeps young removed files, refuses a short retention, and lists in a dry run', async () => {
    const kept = cli('vacuum', table);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /tech: deleted 0 files/);
    const refused = cli('vacuum', table, '--retain-hours', '0');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error \[USAGE\]: a retention of 0 hours is shorter than the table's 168 hours/);
    const dry = cli('vacuum', table, '--retain-hours', '0', '--force', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    const listed = dry.stdout.split('\n').filter((l) => l.startsWith('  '));
    assert.match(dry.stdout, new RegExp(`would delete ${listed.length} files`));
    assert.ok(listed.length > 100, 'the compacted files are listed');
    assert.ok(
      listed.every((l) => fs.existsSync(path.join(table, l.trim()))),
      'a dry run deletes nothing',
    );
    const done = cli('vacuum', table, '--retain-hours', '0', '--force');
    assert.match(done.stdout, new RegExp(`deleted ${listed.length} files`));
    const rows = await readAllRows(await loadSnapshot(new LocalObjectStore(table)));
    assert.equal(rows.length, 130);
  });
});
