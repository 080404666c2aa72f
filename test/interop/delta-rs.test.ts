/**
 * Interoperability with delta-rs (Python `deltalake`) and Polars.
 *
 * Tables written by our writer into temporary directories are read back by
 * `deltalake.DeltaTable` and `polars.read_delta`, and must give exactly the rows
 * we wrote (compared as sorted multisets of a canonical JSON form), the same
 * version, the same application transaction versions, and per-file
 * `numRecords` equal to ours. The other way round, delta-rs appends to a table
 * we created and our reader must read the combined rows.
 *
 * Python comes from `scripts/pyenv.sh`; if it cannot be set up these tests
 * fail (they are never skipped).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DeltaTable,
  LocalObjectStore,
  decodeFilePath,
  field,
  formatDate,
  formatTimestampMicros,
  numRecords,
  readAllRows,
  struct,
  toHex,
  type Add,
  type DataType,
  type DeltaValue,
  type StructType,
} from '../../src/index.ts';
import { PY_PRELUDE, pythonPath, runPython } from '../helpers/python.ts';

// ---------------------------------------------------------------------------
// Canonical comparison form (mirrors PY_PRELUDE's `rows_of`)

/** A Delta value (our in-memory representation) in the form Python's `rows_of` emits. */
function normalizeDelta(v: DeltaValue | undefined, t: DataType): unknown {
  if (v === null || v === undefined) return null;
  switch (t.kind) {
    case 'decimal': {
      // exact string with the type's scale ("1.5" -> "1.500")
      const s = v as string;
      const neg = s.startsWith('-');
      const [int, frac = ''] = (neg ? s.slice(1) : s).split('.');
      const out = t.scale > 0 ? `${int}.${frac.padEnd(t.scale, '0')}` : int;
      return neg ? `-${out}` : out;
    }
    case 'struct': {
      const o = v as Record<string, DeltaValue>;
      return Object.fromEntries(t.fields.map((f) => [f.name, normalizeDelta(o[f.name], f.type)]));
    }
    case 'array':
      return (v as DeltaValue[]).map((e) => normalizeDelta(e, t.elementType));
    case 'map':
      return {
        __map__: (v as Array<[DeltaValue, DeltaValue]>).map(([k, x]) => [
          normalizeDelta(k, t.keyType),
          normalizeDelta(x, t.valueType),
        ]),
      };
    case 'primitive':
      switch (t.name) {
        case 'string':
        case 'boolean':
          return v;
        case 'long':
        case 'integer':
        case 'short':
        case 'byte':
          return String(v);
        case 'float':
        case 'double': {
          const n = v as number;
          return Number.isFinite(n) ? n : String(n); // NaN, Infinity, -Infinity
        }
        case 'binary':
          return toHex(v as Uint8Array);
        case 'date':
          return formatDate(v as number);
        case 'timestamp':
          return `${formatTimestampMicros(v as bigint)}Z`;
        case 'timestamp_ntz':
          return formatTimestampMicros(v as bigint);
      }
  }
}

/** Stable JSON: object keys sorted, map entries sorted, -0 printed as 0. */
function canon(x: unknown): string {
  if (x === null || typeof x !== 'object') return JSON.stringify(x);
  if (Array.isArray(x)) return `[${x.map(canon).join(',')}]`;
  const o = x as Record<string, unknown>;
  if (Object.keys(o).length === 1 && Array.isArray(o.__map__)) {
    const entries = (o.__map__ as unknown[][]).map((e) => `[${canon(e[0])},${canon(e[1])}]`).sort();
    return `{"__map__":[${entries.join(',')}]}`;
  }
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canon(o[k])}`)
    .join(',')}}`;
}

function sortedCanon(rows: unknown[]): string[] {
  return rows.map(canon).sort();
}

function expectedRows(schema: StructType, rows: Array<Record<string, DeltaValue>>): string[] {
  return sortedCanon(rows.map((r) => normalizeDelta(r, schema)));
}

/** Assert two sorted canonical row lists are equal, with a readable first difference. */
function assertSameRows(actual: string[], expected: string[], what: string): void {
  if (actual.length === expected.length && actual.every((r, i) => r === expected[i])) return;
  const missing = expected.filter((r) => !actual.includes(r)).slice(0, 3);
  const extra = actual.filter((r) => !expected.includes(r)).slice(0, 3);
  assert.fail(
    `${what}: ${actual.length} rows, expected ${expected.length}\n  missing (first 3): ${missing.join('\n    ')}\n  unexpected (first 3): ${extra.join('\n    ')}`,
  );
}

// ---------------------------------------------------------------------------
// Python side

interface PyRead {
  version: number;
  rs: unknown[];
  pl?: unknown[];
  txns: Record<string, number | null>;
  adds: Array<{ path: string; numRecords: number | null; size: number; partition: Record<string, unknown> }>;
  count: number;
  columns: string[];
}

const READ_SCRIPT = `${PY_PRELUDE}
import pyarrow as pa
import polars as pl
from deltalake import DeltaTable

uri = sys.argv[1]
opts = json.loads(sys.argv[2])
version = opts.get('version')
dt = DeltaTable(uri) if version is None else DeltaTable(uri, version=version)
out = {'version': dt.version()}
tbl = dt.to_pyarrow_table()
out['columns'] = tbl.schema.names
out['rs'] = rows_of(tbl)
if opts.get('polars', True):
    df = pl.read_delta(uri) if version is None else pl.read_delta(uri, version=version)
    out['pl'] = rows_of(df.to_arrow(), polars=True)
out['txns'] = {a: dt.transaction_version(a) for a in opts.get('appIds', [])}
adds = pa.table(dt.get_add_actions(flatten=True))
part_cols = [c for c in adds.column_names if c.startswith('partition.')]
part_rows = rows_of(adds.select(part_cols)) if part_cols else [{} for _ in range(adds.num_rows)]
out['adds'] = [
    {'path': r['path'], 'numRecords': r['num_records'], 'size': r['size_bytes'],
     'partition': {k[len('partition.'):]: v for k, v in p.items()}}
    for r, p in zip(adds.select(['path', 'num_records', 'size_bytes']).to_pylist(), part_rows)
]
out['count'] = dt.count()
emit(out)
`;

function pyRead(uri: string, opts: { version?: number; appIds?: string[]; polars?: boolean } = {}): PyRead {
  return runPython(READ_SCRIPT, [uri, JSON.stringify(opts)]) as PyRead;
}

// ---------------------------------------------------------------------------
// Helpers

const tempDirs: string[] = [];
function tempTable(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `reddit-stream-interop-${name}-`));
  tempDirs.push(dir);
  return dir;
}

/** numRecords of each live add, keyed by add.path (as written in the log). */
function ourNumRecords(files: Add[]): Map<string, number | null> {
  return new Map(files.map((f) => [f.path, numRecords(f.stats)]));
}

function assertAddsMatch(py: PyRead, files: Add[], totalRows: number): void {
  const ours = ourNumRecords(files);
  assert.equal(py.adds.length, ours.size, 'delta-rs sees as many live files as we wrote');
  for (const a of py.adds) {
    assert.ok(
      ours.has(a.path),
      `delta-rs add path ${a.path} is one of ours (${[...ours.keys()].slice(0, 3).join(', ')}...)`,
    );
    assert.equal(a.numRecords, ours.get(a.path), `numRecords of ${a.path}`);
    assert.equal(a.size, files.find((f) => f.path === a.path)!.size, `size of ${a.path}`);
  }
  assert.equal(
    py.adds.reduce((s, a) => s + (a.numRecords ?? 0), 0),
    totalRows,
    'sum of delta-rs numRecords',
  );
  assert.equal(py.count, totalRows, 'delta-rs DeltaTable.count()');
}

const dec = (precision: number, scale: number): DataType => ({ kind: 'decimal', precision, scale });
const arr = (elementType: DataType, containsNull = true): DataType => ({ kind: 'array', elementType, containsNull });
const map = (keyType: DataType, valueType: DataType, valueContainsNull = true): DataType => ({
  kind: 'map',
  keyType,
  valueType,
  valueContainsNull,
});
const p = (
  name: 'string' | 'long' | 'integer' | 'double' | 'date' | 'timestamp' | 'timestamp_ntz' | 'boolean',
): DataType => ({ kind: 'primitive', name });

before(() => {
  // Provision (or find) the virtualenv up front, so a broken Python setup fails loudly here.
  const python = pythonPath();
  const v = runPython(`${PY_PRELUDE}
import deltalake, polars, pyarrow
from deltalake import DeltaTable
emit({'deltalake': deltalake.__version__, 'polars': polars.__version__, 'pyarrow': pyarrow.__version__,
      'transaction_version': callable(getattr(DeltaTable, 'transaction_version', None))})
`);
  assert.ok(python.length > 0);
  assert.match(v.deltalake, /^1\./, `deltalake 1.x expected, got ${v.deltalake}`);
  assert.equal(v.transaction_version, true, 'deltalake.DeltaTable.transaction_version exists');
});

after(() => {
  if (process.env.KEEP_INTEROP_TABLES) return;
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

describe('delta-rs and Polars read tables written by reddit-stream', () => {
  it('(a) unpartitioned table with many types, nulls and txns', async () => {
    const dir = tempTable('types');
    const schema = struct([
      field('id', 'long', false),
      field('l', 'long'),
      field('i', 'integer'),
      field('sh', { kind: 'primitive', name: 'short' }),
      field('by', { kind: 'primitive', name: 'byte' }),
      field('f', { kind: 'primitive', name: 'float' }),
      field('d', 'double'),
      field('s', 'string'),
      field('b', 'boolean'),
      field('dt', 'date'),
      field('ts', 'timestamp'),
      field('dec', dec(10, 3)),
      field('bin', 'binary'),
      field(
        'st',
        struct([
          field('x', 'long'),
          field('y', 'string'),
          field('inner', struct([field('z', 'double'), field('w', 'date')])),
        ]),
      ),
      field('arr', arr(p('integer'))),
      field('sarr', arr(p('string'))),
      field('nested', arr(arr(p('long')))),
      field('structs', arr(struct([field('a', 'long'), field('b', 'string')]))),
      field('m', map(p('string'), p('long'))),
      field('mstruct', map(p('integer'), struct([field('q', 'string')]))),
    ]);
    const edge: Array<Record<string, DeltaValue>> = [
      {
        id: 1n,
        l: 9223372036854775807n,
        i: 2147483647,
        sh: 32767,
        by: 127,
        f: 0.5,
        d: 1.5,
        s: 'héllo wörld 😀🎉',
        b: true,
        dt: 0,
        ts: 0n,
        dec: '9999999.999',
        bin: new Uint8Array([0, 1, 2, 254, 255]),
        st: { x: 9n, y: 'z', inner: { z: 2.5, w: 19000 } },
        arr: [1, null, 3],
        sarr: ['a', null, '日本語'],
        nested: [[1n, 2n], [], [3n]],
        structs: [
          { a: 1n, b: 'x' },
          { a: null, b: null },
        ],
        m: [
          ['a', 1n],
          ['b', null],
          ['😀', -5n],
        ],
        mstruct: [
          [1, { q: 'one' }],
          [2, null],
        ],
      },
      {
        id: 2n,
        l: -9223372036854775808n,
        i: -2147483648,
        sh: -32768,
        by: -128,
        f: -2.25,
        d: -0.0,
        s: '',
        b: false,
        dt: -1,
        ts: -1n,
        dec: '-9999999.999',
        bin: new Uint8Array([]),
        st: { x: null, y: null, inner: null },
        arr: [],
        sarr: [],
        nested: [],
        structs: [],
        m: [],
        mstruct: [],
      },
      // all nullable columns null
      {
        id: 3n,
        l: null,
        i: null,
        sh: null,
        by: null,
        f: null,
        d: null,
        s: null,
        b: null,
        dt: null,
        ts: null,
        dec: null,
        bin: null,
        st: null,
        arr: null,
        sarr: null,
        nested: null,
        structs: null,
        m: null,
        mstruct: null,
      },
      {
        id: 4n,
        l: 9007199254740993n,
        i: 0,
        sh: 0,
        by: 0,
        f: Number.POSITIVE_INFINITY,
        d: Number.NaN,
        s: 'tab\t"quote"\nnewline\\ 🙂',
        b: null,
        dt: -719162 /* 0001-01-01 */,
        ts: -62135596800000000n /* 0001-01-01T00:00:00Z */,
        dec: '1.5',
        bin: new Uint8Array([0x7f, 0x80]),
        st: { x: 1n, y: 'Ünïcödé', inner: { z: null, w: null } },
        arr: [null],
        sarr: [''],
        nested: [null, [null, 4n]],
        structs: [null],
        m: [['', 0n]],
        mstruct: [[-7, { q: null }]],
      },
      {
        id: 5n,
        l: 0n,
        i: 1,
        sh: 1,
        by: 1,
        f: Number.NEGATIVE_INFINITY,
        d: Number.POSITIVE_INFINITY,
        s: 'ascii only',
        b: true,
        dt: 2932896 /* 9999-12-31 */,
        ts: 253402300799999999n /* 9999-12-31T23:59:59.999999Z */,
        dec: '0.001',
        bin: new Uint8Array([0x20]),
        st: { x: -1n, y: '', inner: { z: -0.5, w: 1 } },
        arr: [-1, 0, 1],
        sarr: ['x'],
        nested: [[0n]],
        structs: [{ a: 0n, b: '' }],
        m: [['k', null]],
        mstruct: [[0, { q: '' }]],
      },
      {
        id: 6n,
        l: -1n,
        i: -1,
        sh: -1,
        by: -1,
        f: 1,
        d: Number.NEGATIVE_INFINITY,
        s: '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 中文 and עברית',
        b: false,
        dt: 19723,
        ts: 1700000000123456n,
        dec: '-0.001',
        bin: null,
        st: null,
        arr: null,
        sarr: null,
        nested: null,
        structs: null,
        m: null,
        mstruct: null,
      },
    ];
    const generated: Array<Record<string, DeltaValue>> = [];
    for (let k = 0; k < 60; k++) {
      generated.push({
        id: BigInt(100 + k),
        l: BigInt(k) * 1_000_000_007n - 30_000_000_000n,
        i: k * 7919 - 200_000,
        sh: k - 30,
        by: (k % 50) - 25,
        f: k % 5 === 0 ? null : k / 4,
        d: k % 7 === 0 ? null : k * 0.1 + 0.2,
        s: k % 6 === 0 ? null : `row ${k} ${'é😀'.repeat(k % 4)}`,
        b: k % 3 === 0 ? null : k % 2 === 0,
        dt: k % 9 === 0 ? null : 18000 + k * 37,
        ts: k % 8 === 0 ? null : 1_600_000_000_000_000n + BigInt(k) * 123_456_789n,
        dec: k % 10 === 0 ? null : `${k % 2 === 0 ? '' : '-'}${k * 13}.${String((k * 7) % 1000).padStart(3, '0')}`,
        bin: k % 11 === 0 ? null : new Uint8Array(Array.from({ length: k % 6 }, (_, j) => (k * 31 + j * 17) % 256)),
        st: k % 12 === 0 ? null : { x: BigInt(k), y: k % 2 ? `y${k}` : null, inner: k % 3 ? { z: k / 2, w: k } : null },
        arr: k % 13 === 0 ? null : Array.from({ length: k % 4 }, (_, j) => (j === 1 ? null : j * k)),
        sarr: k % 5 === 1 ? null : Array.from({ length: k % 3 }, (_, j) => `s${j}`),
        nested: k % 4 === 2 ? null : [[BigInt(k)], Array.from({ length: k % 3 }, (_, j) => BigInt(j))],
        structs: k % 6 === 3 ? null : [{ a: BigInt(k), b: `b${k}` }],
        m:
          k % 7 === 3
            ? null
            : Array.from(
                { length: k % 4 },
                (_, j) => [`key${j}`, j === 2 ? null : BigInt(j * k)] as [DeltaValue, DeltaValue],
              ),
        mstruct: k % 5 === 4 ? null : [[k, { q: `q${k}` }]],
      });
    }
    const table = await DeltaTable.create(new LocalObjectStore(dir), {
      schema,
      name: 'types',
      description: 'many types',
    });
    const batches = [edge, generated.slice(0, 30), generated.slice(30)];
    for (let v = 0; v < batches.length; v++) {
      const res = await table.appendRows(batches[v], {
        txns: [
          { appId: 'interop-a', version: v },
          { appId: 'other-app', version: 100 + v * 10 },
        ],
      });
      assert.equal(res.kind, 'committed', JSON.stringify(res));
      assert.equal(res.kind === 'committed' && res.version, v + 1);
    }
    const all = [...edge, ...generated];
    const expected = expectedRows(schema, all);

    // our own reader agrees with what we wrote
    const reopened = await DeltaTable.open(new LocalObjectStore(dir));
    assertSameRows(
      sortedCanon((await readAllRows(reopened.snapshot)).map((r) => normalizeDelta(r, schema))),
      expected,
      'our reader',
    );

    const py = pyRead(dir, { appIds: ['interop-a', 'other-app', 'never-written'] });
    assert.equal(py.version, 3);
    assert.deepEqual(
      py.columns,
      schema.fields.map((f) => f.name),
    );
    assertSameRows(sortedCanon(py.rs), expected, 'delta-rs rows');
    assertSameRows(sortedCanon(py.pl!), expected, 'Polars rows');
    assert.deepEqual(py.txns, { 'interop-a': 2, 'other-app': 120, 'never-written': null });
    assertAddsMatch(py, reopened.snapshot.files(), all.length);
  });

  it('(a2) timestamp_ntz table (reader 3 / writer 7 with the timestampNtz feature)', async () => {
    const dir = tempTable('ntz');
    const schema = struct([
      field('id', 'long'),
      field('ntz', 'timestamp_ntz'),
      field('ts', 'timestamp'),
      field('tags', arr(p('timestamp_ntz'))),
    ]);
    const rows: Array<Record<string, DeltaValue>> = [
      { id: 1n, ntz: 1700000000123456n, ts: 1700000000123456n, tags: [0n, null] },
      { id: 2n, ntz: null, ts: null, tags: null },
      { id: 3n, ntz: -1n, ts: 86_400_000_000n, tags: [] },
    ];
    const table = await DeltaTable.create(new LocalObjectStore(dir), { schema });
    assert.equal(table.snapshot.protocol.minReaderVersion, 3);
    const res = await table.appendRows(rows, { txns: [{ appId: 'ntz', version: 7 }] });
    assert.equal(res.kind, 'committed');
    const py = pyRead(dir, { appIds: ['ntz'] });
    assert.equal(py.version, 1);
    const expected = expectedRows(schema, rows);
    assertSameRows(sortedCanon(py.rs), expected, 'delta-rs rows');
    assertSameRows(sortedCanon(py.pl!), expected, 'Polars rows');
    assert.deepEqual(py.txns, { ntz: 7 });
    assertAddsMatch(py, table.snapshot.files(), rows.length);
  });

  it('(b) partitioned by a string and a date column with special characters and nulls', async () => {
    const dir = tempTable('partitioned');
    const schema = struct([
      field('id', 'long'),
      field('p', 'string'),
      field('d', 'date'),
      field('v', 'string'),
      field('n', 'double'),
    ]);
    const pvalues: Array<string | null> = [
      'a/b',
      'c d',
      '%',
      '=',
      ':',
      '😀',
      null,
      'x%20y',
      'a=b/c:d%e',
      'é#?',
      `q'"`,
      '[x]{y}^\\',
      'plain',
      '..',
      'tab\there',
      '  lead',
      'emoji 🎉/x=1',
      '%2F',
      'ñ',
    ];
    const rows: Array<Record<string, DeltaValue>> = [];
    let id = 0;
    pvalues.forEach((pv, i) => {
      for (const d of [19000 + i, 19000, null, -365]) {
        rows.push({ id: BigInt(id++), p: pv, d, v: id % 3 === 0 ? null : `v${id}`, n: id / 8 });
      }
    });
    const table = await DeltaTable.create(new LocalObjectStore(dir), {
      schema,
      partitionColumns: ['p', 'd'],
      configuration: { 'delta.checkpointInterval': '2' },
    });
    // two commits so some partitions get two files (and a checkpoint at version 2)
    const r1 = await table.appendRows(rows.slice(0, 40), { txns: [{ appId: 'part', version: 0 }] });
    const r2 = await table.appendRows(rows.slice(40), { txns: [{ appId: 'part', version: 1 }] });
    assert.equal(r1.kind, 'committed');
    assert.equal(r2.kind, 'committed');

    // partition directories are on disk as Hive-escaped names
    const top = fs
      .readdirSync(dir)
      .filter((n) => n !== '_delta_log')
      .sort();
    assert.ok(top.includes('p=a%2Fb'), `dirs: ${top.join(' | ')}`);
    assert.ok(top.includes('p=__HIVE_DEFAULT_PARTITION__'), `dirs: ${top.join(' | ')}`);
    assert.ok(top.every((n) => !n.includes('/')));

    const expected = expectedRows(schema, rows);
    const reopened = await DeltaTable.open(new LocalObjectStore(dir));
    assertSameRows(
      sortedCanon((await readAllRows(reopened.snapshot)).map((r) => normalizeDelta(r, schema))),
      expected,
      'our reader',
    );

    const py = pyRead(dir, { appIds: ['part'] });
    assert.equal(py.version, 2);
    assertSameRows(sortedCanon(py.rs), expected, 'delta-rs rows');
    assertSameRows(sortedCanon(py.pl!), expected, 'Polars rows');
    assert.deepEqual(py.txns, { part: 1 });
    const files = reopened.snapshot.files();
    assertAddsMatch(py, files, rows.length);
    // delta-rs parses the same partition values we wrote
    for (const a of py.adds) {
      const ours = files.find((f) => f.path === a.path)!;
      const want = {
        p: ours.partitionValues.p ?? null,
        d: ours.partitionValues.d ?? null,
      };
      assert.deepEqual(a.partition, want, `partition values of ${a.path}`);
      // and the file is where add.path (decoded once) says
      assert.ok(fs.existsSync(path.join(dir, decodeFilePath(a.path))), `${decodeFilePath(a.path)} exists`);
    }

    // Our checkpoint of a partitioned table (partition values with special characters and
    // nulls in its partitionValues maps): delta-rs and Polars read it without the JSON log.
    assert.ok(
      fs.existsSync(path.join(dir, '_delta_log', `${String(2).padStart(20, '0')}.checkpoint.parquet`)),
      'checkpoint at version 2 (delta.checkpointInterval=2)',
    );
    const copy = tempTable('partitioned-checkpoint');
    fs.cpSync(dir, copy, { recursive: true });
    for (const v of [0, 1, 2]) fs.rmSync(path.join(copy, '_delta_log', `${String(v).padStart(20, '0')}.json`));
    const fromCp = pyRead(copy, { appIds: ['part'] });
    assert.equal(fromCp.version, 2);
    assertSameRows(sortedCanon(fromCp.rs), expected, 'delta-rs rows from our checkpoint');
    assertSameRows(sortedCanon(fromCp.pl!), expected, 'Polars rows from our checkpoint');
    assert.deepEqual(fromCp.txns, { part: 1 });
    assertAddsMatch(fromCp, files, rows.length);
    for (const a of fromCp.adds) {
      const ours = files.find((f) => f.path === a.path)!;
      assert.deepEqual(
        a.partition,
        { p: ours.partitionValues.p ?? null, d: ours.partitionValues.d ?? null },
        `partition values of ${a.path} (checkpoint)`,
      );
    }
  });

  it('(b2) partition columns of other types: timestamp, integer, long, boolean, decimal, double', async () => {
    // Not covered here: binary partition columns (delta-rs writes and reads them as
    // escaped text, Polars cannot read them) and negative decimal partition values
    // (delta-rs 1.6.6 turns "-1.250" into "-1.-250" and fails): both are reader-side limits.
    const dir = tempTable('typed-partitions');
    const schema = struct([
      field('id', 'long'),
      field('ts', 'timestamp'),
      field('i', 'integer'),
      field('l', 'long'),
      field('b', 'boolean'),
      field('dec', dec(10, 3)),
      field('dbl', 'double'),
      field('v', 'string'),
    ]);
    const rows: Array<Record<string, DeltaValue>> = [
      { id: 1n, ts: 1700000000123456n, i: -5, l: 9007199254740993n, b: true, dec: '1.250', dbl: 1.5, v: 'a' },
      { id: 2n, ts: 0n, i: 0, l: -1n, b: false, dec: '0.000', dbl: -0.25, v: 'b' },
      { id: 3n, ts: -1_000_000n, i: null, l: null, b: null, dec: null, dbl: null, v: 'c' },
      {
        id: 4n,
        ts: 1700000000000000n,
        i: 2147483647,
        l: -9223372036854775808n,
        b: true,
        dec: '9999999.999',
        dbl: 1e21,
        v: 'd',
      },
      {
        id: 5n,
        ts: 1700000000000001n,
        i: -2147483648,
        l: 9223372036854775807n,
        b: false,
        dec: '0.001',
        dbl: 0.1 + 0.2,
        v: 'e',
      },
      { id: 6n, ts: null, i: 1, l: 1n, b: true, dec: '5.5', dbl: -1e-7, v: null },
    ];
    const table = await DeltaTable.create(new LocalObjectStore(dir), {
      schema,
      partitionColumns: ['ts', 'i', 'l', 'b', 'dec', 'dbl'],
    });
    assert.equal((await table.appendRows(rows, { txns: [{ appId: 'typed', version: 0 }] })).kind, 'committed');
    const expected = expectedRows(schema, rows);
    const reopened = await DeltaTable.open(new LocalObjectStore(dir));
    assertSameRows(
      sortedCanon((await readAllRows(reopened.snapshot)).map((r) => normalizeDelta(r, schema))),
      expected,
      'our reader',
    );
    const py = pyRead(dir, { appIds: ['typed'] });
    assert.equal(py.version, 1);
    assertSameRows(sortedCanon(py.rs), expected, 'delta-rs rows');
    assertSameRows(sortedCanon(py.pl!), expected, 'Polars rows');
    assert.deepEqual(py.txns, { typed: 0 });
    assertAddsMatch(py, reopened.snapshot.files(), rows.length);
  });

  it('(c) 25+ commits: checkpoints, latest and time travel', async () => {
    const dir = tempTable('checkpoints');
    const schema = struct([field('id', 'long'), field('commit', 'integer'), field('s', 'string')]);
    const table = await DeltaTable.create(new LocalObjectStore(dir), { schema });
    const perCommit = 4;
    const commits = 26;
    const all: Array<Record<string, DeltaValue>> = [];
    for (let c = 0; c < commits; c++) {
      const rows = Array.from({ length: perCommit }, (_, j) => ({
        id: BigInt(c * perCommit + j),
        commit: c,
        s: `c${c}-r${j}`,
      }));
      const res = await table.appendRows(rows, { txns: [{ appId: 'cp-app', version: c }] });
      assert.equal(res.kind, 'committed', JSON.stringify(res));
      assert.equal(res.kind === 'committed' ? res.checkpointError : undefined, undefined, 'no checkpoint error');
      all.push(...rows);
    }
    assert.equal(table.version, commits);
    const log = path.join(dir, '_delta_log');
    for (const v of [10, 20]) {
      assert.ok(
        fs.existsSync(path.join(log, `${String(v).padStart(20, '0')}.checkpoint.parquet`)),
        `checkpoint ${v} exists`,
      );
    }
    assert.ok(!fs.existsSync(path.join(log, `${String(5).padStart(20, '0')}.checkpoint.parquet`)));
    const last = JSON.parse(fs.readFileSync(path.join(log, '_last_checkpoint'), 'utf8'));
    assert.equal(last.version, 20);

    // latest
    const py = pyRead(dir, { appIds: ['cp-app'] });
    assert.equal(py.version, commits);
    assertSameRows(sortedCanon(py.rs), expectedRows(schema, all), 'delta-rs rows at latest');
    assertSameRows(sortedCanon(py.pl!), expectedRows(schema, all), 'Polars rows at latest');
    assert.equal(py.txns['cp-app'], commits - 1);
    assertAddsMatch(py, table.snapshot.files(), all.length);

    // time travel: before the first checkpoint, exactly at one, between two
    for (const v of [0, 1, 5, 10, 15, 20]) {
      const at = pyRead(dir, { version: v, appIds: ['cp-app'] });
      assert.equal(at.version, v);
      assert.equal(at.rs.length, v * perCommit, `delta-rs rows at version ${v}`);
      assert.equal(at.pl!.length, v * perCommit, `Polars rows at version ${v}`);
      assertSameRows(
        sortedCanon(at.rs),
        expectedRows(schema, all.slice(0, v * perCommit)),
        `delta-rs rows at version ${v}`,
      );
      assert.equal(at.txns['cp-app'], v === 0 ? null : v - 1, `txn at version ${v}`);
    }

    // A copy whose JSON commits up to 20 are gone: delta-rs must use our checkpoint 20.
    const copy = tempTable('checkpoints-copy');
    fs.cpSync(dir, copy, { recursive: true });
    for (let v = 0; v <= 20; v++) fs.rmSync(path.join(copy, '_delta_log', `${String(v).padStart(20, '0')}.json`));
    fs.rmSync(path.join(copy, '_delta_log', `${String(10).padStart(20, '0')}.checkpoint.parquet`));
    const fromCp = pyRead(copy, { appIds: ['cp-app'] });
    assert.equal(fromCp.version, commits);
    assertSameRows(sortedCanon(fromCp.rs), expectedRows(schema, all), 'delta-rs rows from our checkpoint');
    assertSameRows(sortedCanon(fromCp.pl!), expectedRows(schema, all), 'Polars rows from our checkpoint');
    assert.equal(fromCp.txns['cp-app'], commits - 1);
    assertAddsMatch(fromCp, table.snapshot.files(), all.length);
    const at20 = pyRead(copy, { version: 20, appIds: ['cp-app'], polars: false });
    assert.equal(at20.version, 20);
    assert.equal(at20.rs.length, 20 * perCommit);
    assert.equal(at20.txns['cp-app'], 19, 'txn version read from the checkpoint');
    // and our reader too
    const ours = await DeltaTable.open(new LocalObjectStore(copy));
    assert.equal(ours.snapshot.checkpointVersion, 20);
    assert.equal(ours.snapshot.txnVersion('cp-app'), commits - 1);
    assert.equal((await readAllRows(ours.snapshot)).length, all.length);
  });

  it('(d) schema evolution: appended nullable columns read as null for older rows', async () => {
    const dir = tempTable('evolution');
    const v1 = struct([field('id', 'long', false), field('name', 'string')]);
    const v2 = struct([
      ...v1.fields,
      field('score', 'double'),
      field('tags', arr(p('string'))),
      field('meta', struct([field('k', 'string')])),
    ]);
    const table = await DeltaTable.create(new LocalObjectStore(dir), { schema: v1 });
    const old = [
      { id: 1n, name: 'one' },
      { id: 2n, name: null },
      { id: 3n, name: 'three 😀' },
    ];
    assert.equal((await table.appendRows(old, { txns: [{ appId: 'evo', version: 0 }] })).kind, 'committed');
    const newer = [
      { id: 4n, name: 'four', score: 4.5, tags: ['a', 'b'], meta: { k: 'x' } },
      { id: 5n, name: 'five', score: null, tags: null, meta: null },
    ];
    const res = await table.appendRows(newer, { schema: v2, txns: [{ appId: 'evo', version: 1 }] });
    assert.equal(res.kind, 'committed', JSON.stringify(res));
    assert.deepEqual(
      table.schema.fields.map((f) => f.name),
      ['id', 'name', 'score', 'tags', 'meta'],
    );
    // a plain append after the evolution uses the new schema
    const latest = [{ id: 6n, name: 'six', score: -1, tags: [], meta: { k: null } }];
    assert.equal((await table.appendRows(latest, { txns: [{ appId: 'evo', version: 2 }] })).kind, 'committed');

    const expected = expectedRows(v2, [...old, ...newer, ...latest]); // missing columns normalise to null
    const py = pyRead(dir, { appIds: ['evo'] });
    assert.equal(py.version, 3);
    assert.deepEqual(py.columns, ['id', 'name', 'score', 'tags', 'meta']);
    assertSameRows(sortedCanon(py.rs), expected, 'delta-rs rows');
    assertSameRows(sortedCanon(py.pl!), expected, 'Polars rows');
    assert.deepEqual(py.txns, { evo: 2 });
    assertAddsMatch(py, table.snapshot.files(), 6);
    // the old schema is still what delta-rs sees at version 1
    const at1 = pyRead(dir, { version: 1, polars: false });
    assert.deepEqual(at1.columns, ['id', 'name']);
    assertSameRows(sortedCanon(at1.rs), expectedRows(v1, old), 'delta-rs rows at version 1');
    // our reader
    const ours = await DeltaTable.open(new LocalObjectStore(dir));
    assertSameRows(
      sortedCanon((await readAllRows(ours.snapshot)).map((r) => normalizeDelta(r, v2))),
      expected,
      'our reader',
    );
  });
});

// Data skipping: delta-rs and Polars prune files with the min/max stats we
// wrote; a bound that is too tight would silently drop matching rows.

type Cmp = '=' | '<' | '<=' | '>' | '>=';
interface FilterSpec {
  col: string;
  op: Cmp;
  kind: 'long' | 'string' | 'timestamp' | 'date' | 'decimal' | 'double';
  value: string | number;
}

const FILTER_SCRIPT = `${PY_PRELUDE}
import operator
import polars as pl
from deltalake import DeltaTable

uri = sys.argv[1]
specs = json.loads(sys.argv[2])
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

def pyval(s):
    k, v = s['kind'], s['value']
    if k == 'long':
        return int(v)
    if k == 'timestamp':
        return EPOCH + datetime.timedelta(microseconds=int(v))
    if k == 'date':
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=int(v))
    if k == 'decimal':
        return decimal.Decimal(v)
    if k == 'double':
        return float(v)
    return v

OPS = {'=': operator.eq, '<': operator.lt, '<=': operator.le, '>': operator.gt, '>=': operator.ge}
dt = DeltaTable(uri)
out = {'rs': [], 'pl': []}
for s in specs:
    v = pyval(s)
    t = dt.to_pyarrow_table(filters=[(s['col'], s['op'], v)], columns=['id'])
    out['rs'].append(sorted(int(x) for x in t.column('id').to_pylist()))
    df = pl.scan_delta(uri).filter(OPS[s['op']](pl.col(s['col']), pl.lit(v))).select('id').collect()
    out['pl'].append(sorted(int(x) for x in df['id'].to_list()))
emit(out)
`;

/** UTF-8 byte order (= code point order), what Parquet and Delta readers compare strings by. */
function cmpStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function decimalUnscaled(s: string, scale: number): bigint {
  const neg = s.startsWith('-');
  const [int, frac = ''] = (neg ? s.slice(1) : s).split('.');
  const u = BigInt(int + frac.padEnd(scale, '0'));
  return neg ? -u : u;
}

function matches(row: Record<string, DeltaValue>, f: FilterSpec): boolean {
  const v = row[f.col];
  if (v === null || v === undefined) return false;
  let c: number;
  switch (f.kind) {
    case 'long':
    case 'timestamp': {
      const x = v as bigint,
        y = BigInt(f.value);
      c = x < y ? -1 : x > y ? 1 : 0;
      break;
    }
    case 'decimal': {
      const x = decimalUnscaled(v as string, 3),
        y = decimalUnscaled(String(f.value), 3);
      c = x < y ? -1 : x > y ? 1 : 0;
      break;
    }
    case 'string':
      c = cmpStrings(v as string, String(f.value));
      break;
    default: {
      const x = v as number,
        y = Number(f.value);
      c = x < y ? -1 : x > y ? 1 : 0;
    }
  }
  switch (f.op) {
    case '=':
      return c === 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

describe('delta-rs and Polars data skipping with our file statistics', () => {
  it('(f) filtered reads return every matching row (stats bounds are valid)', async () => {
    const dir = tempTable('skipping');
    const schema = struct([
      field('id', 'long'),
      field('s', 'string'),
      field('ts', 'timestamp'),
      field('l', 'long'),
      field('dec', dec(10, 3)),
      field('dt', 'date'),
      field('d', 'double'),
      field('st', struct([field('n', 'long'), field('t', 'string')])),
    ]);
    const long32 = 'a'.repeat(32);
    const strings = [
      '',
      'a',
      'b',
      long32,
      `${long32}a`,
      `${long32}z`,
      `${long32}😀`,
      `${long32}\uFFFF`,
      'a'.repeat(40),
      '\uFFFF',
      '\uFF5A',
      '😀',
      '😀a',
      'é',
      'z',
      `${'😀'.repeat(32)}x`,
      `${'\u{10FFFF}'.repeat(33)}`,
      'Z',
    ];
    const stamps = [
      0n,
      1n,
      999n,
      1000n,
      1001n,
      -1n,
      -999n,
      -1000n,
      -1001n,
      1700000000123456n,
      1700000000123999n,
      1700000000124000n,
      1700000000124001n,
    ];
    const longs = [
      0n,
      1n,
      -1n,
      9007199254740993n,
      9007199254740992n,
      -9223372036854775808n,
      9223372036854775807n,
      9223372036854775806n,
    ];
    const decs = ['0.000', '0.001', '-0.001', '9999999.999', '-9999999.999', '1.500', '1.499'];
    const dates = [0, -1, 1, 19000, -719162, 2932896];
    const doubles = [0, -0.5, 0.5, 1e-300, -1e300, 2 ** 53 + 2, 0.1 + 0.2];
    const rows: Array<Record<string, DeltaValue>> = [];
    const n = 36;
    for (let i = 0; i < n; i++) {
      rows.push({
        id: BigInt(i),
        s: i % 19 === 18 ? null : strings[i % strings.length],
        ts: i % 17 === 16 ? null : stamps[(i * 5) % stamps.length],
        l: longs[(i * 3) % longs.length],
        dec: decs[(i * 2) % decs.length],
        dt: dates[i % dates.length],
        d: doubles[(i * 5) % doubles.length],
        st: { n: longs[(i * 7) % longs.length], t: strings[(i * 7) % strings.length] },
      });
    }
    const table = await DeltaTable.create(new LocalObjectStore(dir), { schema });
    // files of 1-3 rows, so that bounds differ from file to file
    for (let i = 0, k = 0; i < rows.length; k++) {
      const size = 1 + (k % 3);
      assert.equal((await table.appendRows(rows.slice(i, i + size))).kind, 'committed');
      i += size;
    }
    const specs: FilterSpec[] = [];
    const ops: Cmp[] = ['=', '<', '<=', '>', '>='];
    for (const op of ops) {
      for (const s of strings) specs.push({ col: 's', op, kind: 'string', value: s });
      for (const t of stamps) specs.push({ col: 'ts', op, kind: 'timestamp', value: t.toString() });
      for (const l of longs) specs.push({ col: 'l', op, kind: 'long', value: l.toString() });
      for (const x of decs) specs.push({ col: 'dec', op, kind: 'decimal', value: x });
      for (const x of dates) specs.push({ col: 'dt', op, kind: 'date', value: x });
      for (const x of doubles) specs.push({ col: 'd', op, kind: 'double', value: x });
    }
    const res = runPython(FILTER_SCRIPT, [dir, JSON.stringify(specs)]) as { rs: number[][]; pl: number[][] };
    const failures: string[] = [];
    specs.forEach((f, i) => {
      const want = rows
        .filter((r) => matches(r, f))
        .map((r) => Number(r.id))
        .sort((a, b) => a - b);
      const show = (x: FilterSpec) => `${x.col} ${x.op} ${JSON.stringify(x.value)}`;
      if (JSON.stringify(res.rs[i]) !== JSON.stringify(want)) {
        failures.push(`delta-rs ${show(f)}: got ids ${JSON.stringify(res.rs[i])}, want ${JSON.stringify(want)}`);
      }
      if (JSON.stringify(res.pl[i]) !== JSON.stringify(want)) {
        failures.push(`Polars ${show(f)}: got ids ${JSON.stringify(res.pl[i])}, want ${JSON.stringify(want)}`);
      }
    });
    assert.deepEqual(failures, [], `${failures.length} filtered reads differ:\n${failures.slice(0, 20).join('\n')}`);

    // Control: the readers really prune with stats (otherwise the checks above
    // would pass whatever our bounds are). In a copy whose first data file claims
    // ids below its real ones, a filter on one of its ids finds nothing.
    const copy = tempTable('skipping-control');
    fs.cpSync(dir, copy, { recursive: true });
    const commitFile = path.join(copy, '_delta_log', `${String(1).padStart(20, '0')}.json`);
    const lines = fs
      .readFileSync(commitFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const tampered = lines.map((l) => {
      const a = JSON.parse(l);
      if (!a.add) return l;
      const st = JSON.parse(a.add.stats);
      assert.equal(st.minValues.id, 0);
      st.minValues.id = -2;
      st.maxValues.id = -1;
      a.add.stats = JSON.stringify(st);
      return JSON.stringify(a);
    });
    fs.writeFileSync(commitFile, `${tampered.join('\n')}\n`);
    for (const f of fs.readdirSync(path.join(copy, '_delta_log'))) {
      if (f.includes('checkpoint')) fs.rmSync(path.join(copy, '_delta_log', f)); // replay the (tampered) JSON log
    }
    const control = runPython(FILTER_SCRIPT, [
      copy,
      JSON.stringify([
        { col: 'id', op: '=', kind: 'long', value: '0' },
        { col: 'id', op: '=', kind: 'long', value: '1' },
      ]),
    ]) as { rs: number[][]; pl: number[][] };
    assert.deepEqual(control, { rs: [[], [1]], pl: [[], [1]] }, 'delta-rs and Polars skip files by their stats');
  });
});

describe('reddit-stream reads tables that delta-rs appended to', () => {
  it('(e) delta-rs and Polars append to (and checkpoint) a table we created; both sides read the combined rows', async () => {
    const dir = tempTable('mixed');
    const schema = struct([
      field('id', 'long'),
      field('p', 'string'),
      field('ts', 'timestamp'),
      field('amount', dec(10, 3)),
      field('day', 'date'),
      field('ok', 'boolean'),
      field('tags', arr(p('string'))),
      field('attrs', map(p('string'), p('string'))),
      field('pt', struct([field('x', 'double'), field('y', 'double')])),
    ]);
    const store = new LocalObjectStore(dir);
    const table = await DeltaTable.create(store, { schema, partitionColumns: ['p'] });
    const ours1: Array<Record<string, DeltaValue>> = [
      {
        id: 1n,
        p: 'a/b',
        ts: 1n,
        amount: '1.000',
        day: 3,
        ok: true,
        tags: ['x'],
        attrs: [['k', 'v']],
        pt: { x: 1, y: 2 },
      },
      { id: 2n, p: 'c d', ts: -5n, amount: '-2.500', day: -3, ok: null, tags: null, attrs: null, pt: null },
      { id: 3n, p: null, ts: null, amount: null, day: null, ok: false, tags: [], attrs: [], pt: { x: null, y: 0.25 } },
    ];
    assert.equal((await table.appendRows(ours1, { txns: [{ appId: 'ours', version: 0 }] })).kind, 'committed');

    const RS_APPEND = `${PY_PRELUDE}
import datetime, decimal
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.transaction import CommitProperties, Transaction
uri = sys.argv[1]
utc = datetime.timezone.utc
sch = pa.schema([
    ('id', pa.int64()), ('p', pa.string()), ('ts', pa.timestamp('us', tz='UTC')), ('amount', pa.decimal128(10, 3)),
    ('day', pa.date32()), ('ok', pa.bool_()), ('tags', pa.list_(pa.string())), ('attrs', pa.map_(pa.string(), pa.string())),
    ('pt', pa.struct([('x', pa.float64()), ('y', pa.float64())])),
])
tbl = pa.table({
    'id': [10, 11, 12, 13],
    'p': ['a/b', '%=:x 😀', None, 'c d'],
    'ts': [datetime.datetime(2024, 1, 1, 12, 30, 45, 123456, tzinfo=utc), None, datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=utc), datetime.datetime(2000, 2, 29, tzinfo=utc)],
    'amount': [decimal.Decimal('3.141'), None, decimal.Decimal('-1.000'), decimal.Decimal('9999999.999')],
    'day': [datetime.date(2024, 2, 29), datetime.date(1900, 1, 1), None, datetime.date(1970, 1, 1)],
    'ok': [True, False, None, True],
    'tags': [['p', None, 'q'], [], None, ['🎉']],
    'attrs': [[('a', '1'), ('b', None)], [], None, [('é', 'ü')]],
    'pt': [{'x': 1.5, 'y': -1.5}, None, {'x': None, 'y': None}, {'x': 0.0, 'y': 1e300}],
}, schema=sch)
write_deltalake(uri, tbl, mode='append', commit_properties=CommitProperties(app_transactions=[Transaction(app_id='rs-app', version=5)]))
# and a Polars DataFrame appended through Polars' own write_delta
import polars as pl
df = pl.DataFrame({
    'id': [30, 31], 'p': ['polars/é', None],
    'ts': [datetime.datetime(2021, 6, 1, 0, 0, 0, 1, tzinfo=utc), None],
    'amount': [decimal.Decimal('0.500'), decimal.Decimal('-12.345')],
    'day': [datetime.date(2021, 6, 1), None], 'ok': [None, False],
    'tags': [['x', 'y'], None], 'attrs': [None, None], 'pt': [{'x': 2.0, 'y': None}, None],
}, schema={
    'id': pl.Int64, 'p': pl.String, 'ts': pl.Datetime('us', 'UTC'), 'amount': pl.Decimal(10, 3), 'day': pl.Date, 'ok': pl.Boolean,
    'tags': pl.List(pl.String), 'attrs': pl.Map(pl.String, pl.String), 'pt': pl.Struct({'x': pl.Float64, 'y': pl.Float64}),
})
df.write_delta(uri, mode='append')
dt = DeltaTable(uri)
dt.create_checkpoint()
emit({'version': dt.version()})
`;
    const rs = runPython(RS_APPEND, [dir]);
    assert.equal(rs.version, 3);
    assert.ok(
      fs.existsSync(path.join(dir, '_delta_log', `${String(3).padStart(20, '0')}.checkpoint.parquet`)),
      'delta-rs wrote a checkpoint at 3',
    );
    const rsRows: Array<Record<string, DeltaValue>> = [
      {
        id: 10n,
        p: 'a/b',
        ts: 1704112245123456n,
        amount: '3.141',
        day: 19782,
        ok: true,
        tags: ['p', null, 'q'],
        attrs: [
          ['a', '1'],
          ['b', null],
        ],
        pt: { x: 1.5, y: -1.5 },
      },
      { id: 11n, p: '%=:x 😀', ts: null, amount: null, day: -25567, ok: false, tags: [], attrs: [], pt: null },
      {
        id: 12n,
        p: null,
        ts: -1n,
        amount: '-1.000',
        day: null,
        ok: null,
        tags: null,
        attrs: null,
        pt: { x: null, y: null },
      },
      {
        id: 13n,
        p: 'c d',
        ts: 951782400000000n,
        amount: '9999999.999',
        day: 0,
        ok: true,
        tags: ['🎉'],
        attrs: [['é', 'ü']],
        pt: { x: 0, y: 1e300 },
      },
    ];
    const plRows: Array<Record<string, DeltaValue>> = [
      {
        id: 30n,
        p: 'polars/é',
        ts: 1622505600000001n,
        amount: '0.500',
        day: 18779,
        ok: null,
        tags: ['x', 'y'],
        attrs: null,
        pt: { x: 2, y: null },
      },
      { id: 31n, p: null, ts: null, amount: '-12.345', day: null, ok: false, tags: null, attrs: null, pt: null },
    ];
    const combined = [...ours1, ...rsRows, ...plRows];

    // incremental refresh of the open table (reads 02.json and 03.json)
    await table.refresh();
    assert.equal(table.version, 3);
    assert.equal(table.snapshot.txnVersion('rs-app'), 5);
    assert.equal(table.snapshot.txnVersion('ours'), 0);
    assertSameRows(
      sortedCanon((await readAllRows(table.snapshot)).map((r) => normalizeDelta(r, schema))),
      expectedRows(schema, combined),
      'our reader after refresh',
    );

    // fresh open: loads delta-rs' checkpoint
    const fresh = await DeltaTable.open(new LocalObjectStore(dir));
    assert.equal(fresh.version, 3);
    assert.equal(fresh.snapshot.checkpointVersion, 3, 'our reader uses the delta-rs checkpoint');
    assert.equal(fresh.snapshot.txnVersion('rs-app'), 5);
    assert.equal(fresh.snapshot.txnVersion('ours'), 0);
    assertSameRows(
      sortedCanon((await readAllRows(fresh.snapshot)).map((r) => normalizeDelta(r, schema))),
      expectedRows(schema, combined),
      'our reader from the delta-rs checkpoint',
    );
    // numRecords of delta-rs' adds as we see them
    assert.equal(
      fresh.snapshot.files().reduce((s, f) => s + (numRecords(f.stats) ?? Number.NaN), 0),
      combined.length,
    );

    // we append again on top of delta-rs' commit and checkpoint; delta-rs reads everything
    const ours2 = [
      {
        id: 20n,
        p: '%=:x 😀',
        ts: 7n,
        amount: '0.001',
        day: 1,
        ok: true,
        tags: ['z'],
        attrs: [['k2', 'v2']],
        pt: { x: -1, y: -2 },
      },
    ];
    const res = await fresh.appendRows(ours2, { txns: [{ appId: 'ours', version: 1 }] });
    assert.equal(res.kind, 'committed');
    assert.equal(res.kind === 'committed' && res.version, 4);
    const all = [...combined, ...ours2];
    const py = pyRead(dir, { appIds: ['ours', 'rs-app'] });
    assert.equal(py.version, 4);
    assertSameRows(sortedCanon(py.rs), expectedRows(schema, all), 'delta-rs rows');
    assertSameRows(sortedCanon(py.pl!), expectedRows(schema, all), 'Polars rows');
    assert.deepEqual(py.txns, { ours: 1, 'rs-app': 5 });
    assertAddsMatch(py, fresh.snapshot.files(), all.length);
  });
});
