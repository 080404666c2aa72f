/**
 * Protocol and table features: what this implementation can read and write.
 *
 * Reader: versions 1-3. Version 2 means column mapping may be on; we read such
 * a table only when `delta.columnMapping.mode` is absent or `none`. Version 3
 * lists readerFeatures, each of which must be on the allow-list below. Anything
 * else is refused with an error naming every unsupported feature, because
 * ignoring a reader feature returns wrong rows.
 *
 * Writer: versions 1-2 (appendOnly and invariants are honoured: we only append,
 * and refuse tables whose schema carries invariants), and version 7 with the
 * writer features on the allow-list.
 */
import { UnsupportedFeatureError } from '../errors.ts';
import type { Metadata, Protocol } from './actions.ts';
import type { DataType, StructType } from './schema.ts';

/** Reader features whose semantics this reader implements. */
export const SUPPORTED_READER_FEATURES = new Set(['timestampNtz', 'vacuumProtocolCheck']);
/** Writer features this writer honours when appending. */
export const SUPPORTED_WRITER_FEATURES = new Set(['appendOnly', 'invariants', 'timestampNtz', 'vacuumProtocolCheck']);

export function columnMappingMode(metadata: Metadata): string {
  return metadata.configuration['delta.columnMapping.mode'] ?? 'none';
}

/** Throws UnsupportedFeatureError when the table cannot be read correctly. */
export function checkReadSupported(protocol: Protocol, metadata: Metadata | undefined, where: string): void {
  const v = protocol.minReaderVersion;
  if (v > 3) {
    const feats = (protocol.readerFeatures ?? []).filter((f) => !SUPPORTED_READER_FEATURES.has(f));
    const also = feats.length ? ` and reader features ${feats.join(', ')}` : '';
    throw new UnsupportedFeatureError(
      [`readerVersion${v}`, ...feats],
      `cannot read ${where}: it requires Delta reader version ${v} (readerVersion${v})${also}; this reader supports reader versions 1-3 with features ${[...SUPPORTED_READER_FEATURES].join(', ')}`,
    );
  }
  const unsupported: string[] = [];
  if (v === 3) {
    for (const f of protocol.readerFeatures ?? []) {
      if (f === 'columnMapping' && metadata && columnMappingMode(metadata) === 'none') continue;
      if (!SUPPORTED_READER_FEATURES.has(f)) unsupported.push(f);
    }
  }
  if (v >= 2 && metadata && columnMappingMode(metadata) !== 'none' && !unsupported.includes('columnMapping')) {
    unsupported.push('columnMapping');
  }
  if (unsupported.length > 0) {
    throw new UnsupportedFeatureError(
      unsupported,
      `cannot read ${where}: it uses Delta table feature${unsupported.length > 1 ? 's' : ''} ${unsupported.join(', ')} which this reader does not support (reading it anyway could return wrong rows)`,
    );
  }
}

/** Throws UnsupportedFeatureError when appending to the table could break its guarantees. */
export function checkWriteSupported(protocol: Protocol, metadata: Metadata, schema: StructType, where: string): void {
  checkReadSupported(protocol, metadata, where);
  const v = protocol.minWriterVersion;
  const unsupported: string[] = [];
  if (v === 7) {
    for (const f of protocol.writerFeatures ?? []) if (!SUPPORTED_WRITER_FEATURES.has(f)) unsupported.push(f);
  } else if (v > 2) {
    unsupported.push(`writerVersion${v}`);
  }
  if (hasInvariants(schema)) unsupported.push('invariants');
  if (unsupported.length > 0) {
    throw new UnsupportedFeatureError(
      unsupported,
      `cannot write to ${where}: it requires writer support for ${unsupported.join(', ')}, which this writer does not implement`,
    );
  }
}

function hasInvariants(t: DataType): boolean {
  switch (t.kind) {
    case 'struct':
      return t.fields.some((f) => f.metadata['delta.invariants'] !== undefined || hasInvariants(f.type));
    case 'array':
      return hasInvariants(t.elementType);
    case 'map':
      return hasInvariants(t.keyType) || hasInvariants(t.valueType);
    default:
      return false;
  }
}
