/**
 * `describe` agrees with delta-rs on which data files make up every shared
 * fixture table (shared/fixtures/delta, INDEX.md) at every version of its
 * listed commit range: the same files (by decoded path) with the same sizes,
 * and the same file count and byte total in `describe --format json`.
 *
 * `describe` loads state without the reader-feature check, so tables whose
 * rows we refuse to read (deletion vectors, column mapping, V2 checkpoints,
 * unknown features) are compared too; reading their rows must still be
 * refused, naming the feature.
 *
 * delta-rs itself refuses delta-rs-simple_table_features (reader features
 * listed under reader version 5); it is compared on a copy whose protocol
 * action is replaced by reader 1 / writer 2, its add/remove actions unchanged.
 *
 * Python comes from `scripts/pyenv.sh`; if it cannot be set up this test fails.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeLines } from '../../src/cli/describe.ts';
import { decodeFilePath } from '../../src/delta/actions.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { UnsupportedFeatureError } from '../../src/errors.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { DELTA_FIXTURES, fixtureTable } from '../helpers/fixtures.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

interface Fixture {
  table: string;
  versions: number[];
  /** Versions INDEX.md names: the latest and those with expected contents. */
  listed: number[];
}

/** Tables and version ranges from INDEX.md ("### <folder>", "commits A..B", "latest version N", "vN.ndjson"). */
function fixtures(): Fixture[] {
  const index = fs.readFileSync(path.join(DELTA_FIXTURES, 'INDEX.md'), 'utf8');
  const out: Fixture[] = [];
  for (const section of index.split(/^### /m).slice(1)) {
    const table = section.slice(0, section.indexOf('\n')).trim();
    const range = /commits (\d+)\.\.(\d+)/.exec(section);
    assert.ok(range, `INDEX.md gives the commit range of ${table}`);
    const [from, to] = [Number(range[1]), Number(range[2])];
    const listed = [
      ...[...section.matchAll(/latest version (\d+)/g)].map((m) => Number(m[1])),
      ...[...section.matchAll(/`_expected\/[^/]+\/v(\d+)\.ndjson`/g)].map((m) => Number(m[1])),
    ];
    out.push({ table, versions: Array.from({ length: to - from + 1 }, (_, i) => from + i), listed });
  }
  return out;
}

/** Reading rows of these tables is refused, naming this feature. */
const READ_REFUSED: Record<string, string> = {
  'delta-rs-table-with-dv-small': 'deletionVectors',
  'delta-rs-table_with_column_mapping': 'columnMapping',
  'delta-rs-checkpoint-v2-table': 'v2Checkpoint',
  'delta-rs-simple_table_features': 'blahabl',
};
const PROTOCOL_REFUSED_BY_DELTA_RS = 'delta-rs-simple_table_features';

const ADDS_SCRIPT = `${PY_PRELUDE}
import pyarrow as pa
from deltalake import DeltaTable

out = []
for job in json.loads(sys.argv[1]):
    try:
        dt = DeltaTable(job['uri'], version=job['version'])
        adds = pa.table(dt.get_add_actions(flatten=True)).select(['path', 'size_bytes']).to_pylist()
        out.append({'version': dt.version(), 'files': [[a['path'], a['size_bytes']] for a in adds]})
    except Exception as e:
        out.append({'error': '%s: %s' % (type(e).__name__, e)})
emit(out)
`;

type PyFiles = { version: number; files: Array<[string, number]> } | { error: string };

/** "decoded path<TAB>size" lines, sorted. */
const fileLines = (files: Array<[string, number]>) => files.map(([p, size]) => `${decodeFilePath(p)}\t${size}`).sort();

/** A copy of the table whose protocol action says reader 1 / writer 2. */
function withPlainProtocol(table: string, dir: string): string {
  const copy = path.join(dir, table);
  fs.cpSync(fixtureTable(table), copy, { recursive: true });
  const first = path.join(copy, '_delta_log', `${'0'.repeat(20)}.json`);
  const lines = fs.readFileSync(first, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith('{"protocol"'));
  assert.ok(at >= 0, `${table}: version 0 has a protocol action`);
  lines[at] = JSON.stringify({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
  fs.writeFileSync(first, lines.join('\n'));
  return copy;
}

describe('describe lists the same data files as delta-rs on the shared fixtures', () => {
  const all = fixtures();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-describe-files-'));
  const deltaRs = new Map<string, PyFiles>();
  const key = (table: string, version: number) => `${table}@${version}`;

  before(() => {
    const jobs: Array<{ table: string; uri: string; version: number }> = [];
    for (const f of all) {
      for (const version of f.versions) {
        jobs.push({ table: f.table, uri: fixtureTable(f.table), version });
        if (f.table === PROTOCOL_REFUSED_BY_DELTA_RS) {
          jobs.push({ table: `${f.table} (plain protocol)`, uri: withPlainProtocol(f.table, tmp), version });
        }
      }
    }
    const unique = jobs.filter((j, i) => jobs.findIndex((k) => k.uri === j.uri && k.version === j.version) === i);
    const results = runPython(ADDS_SCRIPT, [JSON.stringify(unique)]) as PyFiles[];
    unique.forEach((j, i) => deltaRs.set(key(j.table, j.version), results[i]));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('covers all 30 fixture tables, every listed version inside the compared range', () => {
    assert.equal(all.length, 30);
    for (const f of all) {
      assert.ok(f.listed.length > 0, `${f.table} lists a version`);
      for (const v of f.listed) assert.ok(f.versions.includes(v), `${f.table} v${v} is compared`);
    }
    for (const t of Object.keys(READ_REFUSED)) {
      assert.ok(
        all.some((f) => f.table === t),
        t,
      );
    }
  });

  for (const f of all) {
    it(`${f.table} v${f.versions[0]}..v${f.versions[f.versions.length - 1]}`, async () => {
      const root = fixtureTable(f.table);
      for (const version of f.versions) {
        let expected = deltaRs.get(key(f.table, version));
        assert.ok(expected, `delta-rs ran on ${f.table} v${version}`);
        if (f.table === PROTOCOL_REFUSED_BY_DELTA_RS) {
          assert.ok('error' in expected, `delta-rs refuses ${f.table} v${version}`);
          assert.match(expected.error, /[Rr]eader features/);
          expected = deltaRs.get(key(`${f.table} (plain protocol)`, version))!;
        }
        if ('error' in expected) assert.fail(`delta-rs cannot load ${f.table} v${version}: ${expected.error}`);
        assert.equal(expected.version, version);

        const snap = await loadSnapshot(new LocalObjectStore(root), { version, skipFeatureCheck: true });
        assert.equal(snap.version, version);
        assert.deepEqual(
          fileLines(snap.files().map((a) => [a.path, a.size])),
          fileLines(expected.files),
          `${f.table} v${version}: files and sizes`,
        );
        const info = JSON.parse((await describeLines(root, { version, format: 'json' })).join('\n'));
        assert.deepEqual(
          { files: info.files, bytes: info.bytes },
          { files: expected.files.length, bytes: expected.files.reduce((s, [, size]) => s + size, 0) },
          `${f.table} v${version}: describe --format json`,
        );
      }
      const feature = READ_REFUSED[f.table];
      if (feature) {
        await assert.rejects(loadSnapshot(new LocalObjectStore(root)), (err: unknown) => {
          assert.ok(err instanceof UnsupportedFeatureError, `expected UnsupportedFeatureError, got ${err}`);
          assert.ok(err.features.includes(feature), `features ${err.features} should include ${feature}`);
          assert.match(err.message, new RegExp(feature));
          return true;
        });
      }
    });
  }
});
