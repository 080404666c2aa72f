/**
 * Protocol versions and table features (src/delta/features.ts): what the
 * reader and the writer accept, and refusals that name every unsupported
 * feature.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnsupportedFeatureError } from '../../src/errors.ts';
import type { Metadata, Protocol } from '../../src/delta/actions.ts';
import {
  checkReadSupported,
  checkWriteSupported,
  columnMappingMode,
  SUPPORTED_READER_FEATURES,
  SUPPORTED_WRITER_FEATURES,
} from '../../src/delta/features.ts';
import { field, struct, type StructType } from '../../src/delta/schema.ts';

const metadata = (configuration: Record<string, string> = {}): Metadata => ({
  id: 't',
  format: { provider: 'parquet', options: {} },
  schemaString: '{"type":"struct","fields":[]}',
  partitionColumns: [],
  configuration,
});
const reader = (minReaderVersion: number, readerFeatures?: string[]): Protocol => ({
  minReaderVersion,
  minWriterVersion: minReaderVersion === 3 ? 7 : 2,
  ...(readerFeatures ? { readerFeatures } : {}),
});
const writer = (minWriterVersion: number, writerFeatures?: string[]): Protocol => ({
  minReaderVersion: 1,
  minWriterVersion,
  ...(writerFeatures ? { writerFeatures } : {}),
});
const schema = struct([field('id', 'long')]);
const nameMode = metadata({ 'delta.columnMapping.mode': 'name' });

/** Asserts `fn` throws an UnsupportedFeatureError listing exactly `features`, each named in the message. */
function refuses(fn: () => void, features: string[], message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UnsupportedFeatureError, `expected UnsupportedFeatureError, got ${e}`);
    assert.equal(e.code, 'UNSUPPORTED_FEATURE');
    assert.deepEqual(e.features, features);
    for (const f of features) assert.match(e.message, new RegExp(`\\b${f}\\b`));
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('reader support', () => {
  it('reads reader versions 1 and 2 (without column mapping) and 3 with allowed features', () => {
    for (const p of [reader(1), reader(2), reader(3, []), reader(3, ['timestampNtz', 'vacuumProtocolCheck'])]) {
      assert.doesNotThrow(() => checkReadSupported(p, metadata(), 't'), JSON.stringify(p));
    }
    assert.deepEqual([...SUPPORTED_READER_FEATURES].sort(), ['timestampNtz', 'vacuumProtocolCheck']);
  });

  it('refuses unsupported reader features, naming all of them', () => {
    refuses(
      () => checkReadSupported(reader(3, ['deletionVectors', 'timestampNtz', 'v2Checkpoint']), metadata(), 'tbl'),
      ['deletionVectors', 'v2Checkpoint'],
      /cannot read tbl: it uses Delta table features deletionVectors, v2Checkpoint/,
    );
    refuses(() => checkReadSupported(reader(3, ['typeWidening']), metadata(), 't'), ['typeWidening'], /feature /);
  });

  it('column mapping: refused when a mode is set on reader 2 or 3, accepted when the mode is none', () => {
    assert.equal(columnMappingMode(metadata()), 'none');
    assert.equal(columnMappingMode(nameMode), 'name');
    refuses(() => checkReadSupported(reader(2), nameMode, 't'), ['columnMapping']);
    refuses(() => checkReadSupported(reader(3, ['columnMapping']), nameMode, 't'), ['columnMapping']);
    refuses(
      () => checkReadSupported(reader(3, []), metadata({ 'delta.columnMapping.mode': 'id' }), 't'),
      ['columnMapping'],
    );
    const none = metadata({ 'delta.columnMapping.mode': 'none' });
    assert.doesNotThrow(() => checkReadSupported(reader(3, ['columnMapping']), none, 't'));
    assert.doesNotThrow(() => checkReadSupported(reader(2), none, 't'));
    // reader version 1 predates column mapping: the property means nothing there
    assert.doesNotThrow(() => checkReadSupported(reader(1), nameMode, 't'));
  });

  it('refuses reader versions above 3, naming the version and its unsupported features', () => {
    refuses(
      () => checkReadSupported(reader(5, ['columnMapping', 'timestampNtz', 'blahabl']), metadata(), 't'),
      ['readerVersion5', 'columnMapping', 'blahabl'],
      /requires Delta reader version 5/,
    );
    refuses(() => checkReadSupported(reader(4), undefined, 't'), ['readerVersion4']);
  });
});

describe('writer support', () => {
  it('appends to writer versions 1-2 and 7 with allowed features', () => {
    for (const p of [writer(1), writer(2), writer(7, [...SUPPORTED_WRITER_FEATURES]), writer(7)]) {
      assert.doesNotThrow(() => checkWriteSupported(p, metadata(), schema, 't'), JSON.stringify(p));
    }
  });

  it('refuses writer versions 3-6, naming the version', () => {
    for (const v of [3, 4, 5, 6]) {
      refuses(
        () => checkWriteSupported(writer(v), metadata(), schema, 'tbl'),
        [`writerVersion${v}`],
        /cannot write to tbl/,
      );
    }
  });

  it('refuses writer features outside the allow-list, naming all of them', () => {
    refuses(
      () => checkWriteSupported(writer(7, ['appendOnly', 'changeDataFeed', 'rowTracking']), metadata(), schema, 't'),
      ['changeDataFeed', 'rowTracking'],
    );
  });

  it('refuses a schema with invariants, also in nested fields', () => {
    const invariant = { 'delta.invariants': '{"expression":{"expression":"id > 0"}}' };
    refuses(
      () => checkWriteSupported(writer(2), metadata(), struct([field('id', 'long', true, invariant)]), 't'),
      ['invariants'],
    );
    const nested: StructType = struct([
      field('outer', { kind: 'array', elementType: struct([field('x', 'long', true, invariant)]), containsNull: true }),
    ]);
    refuses(() => checkWriteSupported(writer(7, ['invariants']), metadata(), nested, 't'), ['invariants']);
  });

  it('refuses to write what it cannot read, with the reader refusal', () => {
    refuses(
      () => checkWriteSupported(reader(3, ['deletionVectors']), metadata(), schema, 't'),
      ['deletionVectors'],
      /cannot read/,
    );
  });
});
