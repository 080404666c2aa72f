/**
 * Log replay (src/delta/replay.ts) on hand-made actions: which protocol,
 * metaData, txn and domain win, how add/remove make files live or tombstones,
 * and the identity of a logical file (decoded path + deletion vector id).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReddStreamError } from '../../src/errors.ts';
import type { DeletionVector, LogAction } from '../../src/delta/actions.ts';
import {
  applyActions,
  builderFrom,
  builderFromCheckpoint,
  deletionVectorId,
  fileKey,
  finish,
  replay,
} from '../../src/delta/replay.ts';

const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }],
});
const protocol = (minReaderVersion = 1, minWriterVersion = 2): LogAction => ({
  protocol: { minReaderVersion, minWriterVersion },
});
const metaData = (extra: Record<string, unknown> = {}): LogAction => ({
  metaData: {
    id: 'table-id',
    format: { provider: 'parquet', options: {} },
    schemaString: SCHEMA,
    partitionColumns: [],
    configuration: {},
    ...extra,
  },
});
const add = (path: string, deletionVector?: DeletionVector, size = 10): LogAction => ({
  add: { path, partitionValues: {}, size, modificationTime: 0, dataChange: true, deletionVector },
});
const remove = (path: string, deletionVector?: DeletionVector): LogAction => ({
  remove: { path, deletionTimestamp: 1000, dataChange: true, deletionVector },
});
const dv = (pathOrInlineDv: string, offset?: number): DeletionVector => ({
  storageType: 'u',
  pathOrInlineDv,
  offset,
  sizeInBytes: 34,
  cardinality: 2,
});
const created: LogAction[] = [protocol(), metaData()];

/** Live files as sorted "path[#dvId]:size" strings, tombstones as sorted "path[#dvId]". */
function summary(state: ReturnType<typeof replay>) {
  const id = (f: { path: string; deletionVector?: DeletionVector | null }) =>
    f.deletionVector ? `${f.path}#${deletionVectorId(f.deletionVector)}` : f.path;
  return {
    files: [...state.files.values()].map((f) => `${id(f)}:${f.size}`).sort(),
    tombstones: [...state.tombstones.values()].map(id).sort(),
  };
}

describe('replay: protocol, metaData, txn and domain precedence', () => {
  it('the newest protocol and metaData win, whatever came before', () => {
    const state = replay([
      { version: 0, actions: created },
      { version: 1, actions: [metaData({ name: 'renamed', configuration: { 'delta.appendOnly': 'true' } })] },
      { version: 2, actions: [protocol(3, 7)] },
    ]);
    assert.equal(state.version, 2);
    assert.equal(state.metadata.name, 'renamed');
    assert.deepEqual(state.metadata.configuration, { 'delta.appendOnly': 'true' });
    assert.deepEqual(state.protocol, { minReaderVersion: 3, minWriterVersion: 7 });
  });

  it('keeps the newest txn per appId and every app that committed one', () => {
    const state = replay([
      { version: 0, actions: [...created, { txn: { appId: 'a', version: 5 } }] },
      { version: 1, actions: [{ txn: { appId: 'b', version: 1 } }] },
      // versions of an application need not grow: the newest action wins
      { version: 2, actions: [{ txn: { appId: 'a', version: 3, lastUpdated: 42 } }] },
    ]);
    assert.deepEqual(Object.fromEntries([...state.txns].map(([k, t]) => [k, t.version])), { a: 3, b: 1 });
    assert.equal(state.txns.get('a')?.lastUpdated, 42);
  });

  it('keeps the newest domain metadata and forgets removed domains', () => {
    const domain = (d: string, configuration: string, removed = false): LogAction => ({
      domainMetadata: { domain: d, configuration, removed },
    });
    const state = replay([
      { version: 0, actions: [...created, domain('x', '1'), domain('y', '1')] },
      { version: 1, actions: [domain('x', '2'), domain('y', '1', true)] },
    ]);
    assert.deepEqual([...state.domains.keys()], ['x']);
    assert.equal(state.domains.get('x')?.configuration, '2');
  });

  it('refuses a log without protocol or metaData, naming the version', () => {
    const missing = (actions: LogAction[], what: RegExp) =>
      assert.throws(
        () => replay([{ version: 0, actions }], 'memory://t'),
        (e: unknown) => e instanceof ReddStreamError && e.code === 'CORRUPT_LOG' && what.test(e.message),
      );
    missing([metaData()], /no protocol action found in the log of memory:\/\/t up to version 0/);
    missing([protocol()], /no metaData action found in the log of memory:\/\/t up to version 0/);
  });
});

describe('replay: the effective metaData and protocol are checked, not the replaced ones', () => {
  const { schemaString: _dropped, ...incomplete } = (metaData() as { metaData: Record<string, unknown> }).metaData;
  const log = [
    { version: 0, actions: [protocol(), { metaData: incomplete }, add('a')] },
    { version: 1, actions: [metaData({ name: 'complete' })] },
  ];

  it('reads a version whose newest metaData is complete although an older one lacks schemaString', () => {
    const state = replay(log);
    assert.equal(state.version, 1);
    assert.equal(state.metadata.schemaString, SCHEMA);
    assert.equal(state.metadata.name, 'complete');
    assert.deepEqual(summary(state).files, ['a:10']);
  });

  it('refuses the version whose effective metaData lacks it, naming the version and saying "absent"', () => {
    assert.throws(
      () => replay(log.slice(0, 1), 'memory://t'),
      (e: unknown) => {
        assert.ok(e instanceof ReddStreamError && e.code === 'CORRUPT_LOG', String(e));
        assert.match(e.message, /memory:\/\/t at version 0/);
        assert.match(e.message, /field "metaData\.schemaString" must be a string, but it is absent/);
        return true;
      },
    );
  });

  it('shows the value of a present field of the wrong type (null, number)', () => {
    for (const [value, shown] of [
      [null, 'got null'],
      [42, 'got 42'],
    ] as const) {
      assert.throws(
        () => replay([{ version: 3, actions: [protocol(), metaData({ schemaString: value })] }]),
        new RegExp(`at version 3 .*"metaData\\.schemaString" must be a string, ${shown}$`),
      );
    }
    assert.throws(
      () => replay([{ version: 0, actions: [protocol(), metaData({ partitionColumns: 'p' })] }]),
      /"metaData\.partitionColumns" must be an array, got "p"/,
    );
  });

  it('names the version of an incomplete metaData still in effect at a later version', () => {
    assert.throws(
      () => replay([log[0], { version: 1, actions: [add('b')] }]),
      /at version 1 \(the metaData action in effect, from version 0\)/,
    );
  });

  it('applies the same rule to protocol', () => {
    const early = [protocol(), { protocol: { minWriterVersion: 2 } }, metaData()];
    assert.throws(
      () => replay([{ version: 0, actions: early }]),
      /"protocol\.minReaderVersion" must be a number, but it is absent/,
    );
    const state = replay([
      { version: 0, actions: early },
      { version: 1, actions: [protocol(1, 3)] },
    ]);
    assert.deepEqual(state.protocol, { minReaderVersion: 1, minWriterVersion: 3 });
  });
});

describe('replay: files and tombstones', () => {
  it('an add makes a file live, a remove makes it a tombstone, a new add revives it', () => {
    const b = builderFrom(replay([{ version: 0, actions: [...created, add('a'), add('b')] }]));
    applyActions(b, [remove('a')], 1);
    assert.deepEqual(summary(finish(b, 't')), { files: ['b:10'], tombstones: ['a'] });
    applyActions(b, [add('a', undefined, 11)], 2);
    assert.deepEqual(summary(finish(b, 't')), { files: ['a:11', 'b:10'], tombstones: [] });
  });

  it('a later add of the same logical file replaces its entry (e.g. new stats)', () => {
    const state = replay([
      { version: 0, actions: [...created, add('a', undefined, 1)] },
      { version: 1, actions: [add('a', undefined, 2)] },
    ]);
    assert.deepEqual(summary(state).files, ['a:2']);
  });

  it('identifies files by decoded path: a remove of "a b" removes the add of "a%20b"', () => {
    const state = replay([
      { version: 0, actions: [...created, add('p=x%20y/a%20b.parquet'), add('p=x%2520y/c.parquet')] },
      { version: 1, actions: [remove('p=x y/a b.parquet')] },
    ]);
    assert.deepEqual(summary(state), { files: ['p=x%2520y/c.parquet:10'], tombstones: ['p=x y/a b.parquet'] });
    assert.deepEqual([...state.files.keys()], ['p=x%20y/c.parquet']);
  });

  it('does not change the state a builder was made from', () => {
    const state = replay([{ version: 0, actions: [...created, add('a')] }]);
    const b = builderFrom(state);
    applyActions(b, [remove('a'), { txn: { appId: 'x', version: 1 } }], 1);
    assert.deepEqual(summary(state), { files: ['a:10'], tombstones: [] });
    assert.equal(state.txns.size, 0);
    assert.equal(finish(b, 't').version, 1);
  });
});

describe('replay: a logical file is (path, deletion vector unique id)', () => {
  it('derives the unique id as storageType + pathOrInlineDv + optional "@offset"', () => {
    assert.equal(deletionVectorId(dv('ab^-aqEH.-t@S}K{vb[*k^', 4)), 'uab^-aqEH.-t@S}K{vb[*k^@4');
    assert.equal(
      deletionVectorId({ storageType: 'i', pathOrInlineDv: 'wi5b=0', sizeInBytes: 4, cardinality: 1 }),
      'iwi5b=0',
    );
    assert.equal(deletionVectorId(dv('x', 0)), 'ux@0');
    assert.notEqual(
      fileKey({ path: 'a', deletionVector: dv('x', 1) }),
      fileKey({ path: 'a', deletionVector: dv('x', 2) }),
    );
    assert.notEqual(fileKey({ path: 'a', deletionVector: dv('x', 1) }), fileKey({ path: 'a' }));
    assert.equal(
      fileKey({ path: 'a%20b', deletionVector: dv('x') }),
      fileKey({ path: 'a b', deletionVector: dv('x') }),
    );
  });

  it('a DELETE that adds a deletion vector replaces the file, whatever the order of its two actions', () => {
    for (const order of ['remove first', 'add first']) {
      const pair = [remove('f'), add('f', dv('one', 1))];
      const state = replay([
        { version: 0, actions: [...created, add('f')] },
        { version: 1, actions: order === 'remove first' ? pair : pair.reverse() },
      ]);
      assert.deepEqual(summary(state), { files: ['f#uone@1:10'], tombstones: ['f'] }, order);
    }
  });

  it('a remove with another deletion vector leaves the live logical file alone', () => {
    const state = replay([
      { version: 0, actions: [...created, add('f', dv('one', 1))] },
      { version: 1, actions: [remove('f', dv('one', 2)), remove('f')] },
    ]);
    assert.deepEqual(summary(state), { files: ['f#uone@1:10'], tombstones: ['f', 'f#uone@2'] });
  });

  it('a second DELETE replaces the deletion vector and keeps both old ones as tombstones', () => {
    const state = replay([
      { version: 0, actions: [...created, add('f')] },
      { version: 1, actions: [remove('f'), add('f', dv('one'))] },
      { version: 2, actions: [add('f', dv('two')), remove('f', dv('one'))] },
    ]);
    assert.deepEqual(summary(state), { files: ['f#utwo:10'], tombstones: ['f', 'f#uone'] });
  });
});

describe('replay: a checkpoint has no row order', () => {
  it('a remove of an older deletion vector never hides the add of a newer one, in either order', () => {
    const rows = [...created, add('f', dv('two')), remove('f', dv('one')), add('g')];
    for (const ordered of [rows, [...rows].reverse()]) {
      const state = finish(builderFromCheckpoint(ordered, 7), 't');
      assert.equal(state.version, 7);
      assert.deepEqual(summary(state), { files: ['f#utwo:10', 'g:10'], tombstones: ['f#uone'] });
    }
  });

  it('a row pair removing and adding the very same logical file keeps it live, in either order', () => {
    for (const rows of [
      [...created, remove('f'), add('f')],
      [...created, add('f'), remove('f')],
    ]) {
      assert.deepEqual(summary(finish(builderFromCheckpoint(rows, 3), 't')), { files: ['f:10'], tombstones: [] });
    }
  });

  it('commits after the checkpoint apply in order on top of it', () => {
    const b = builderFromCheckpoint([...created, add('f', dv('one')), remove('f')], 3);
    applyActions(b, [remove('f', dv('one')), add('f', dv('two'))], 4);
    applyActions(b, [metaData({ name: 'v5' })], 5);
    const state = finish(b, 't');
    assert.equal(state.version, 5);
    assert.equal(state.metadata.name, 'v5');
    assert.deepEqual(summary(state), { files: ['f#utwo:10'], tombstones: ['f', 'f#uone'] });
  });
});
