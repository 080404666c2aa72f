/**
 * Delta log actions (PROTOCOL.md "Actions"), their parsing from commit JSON and
 * from checkpoint rows, and their serialisation. Actions keep the JSON shape of
 * the protocol (`{ add: {...} }`), so serialisation is `JSON.stringify`.
 *
 * `cdc`, `domainMetadata`, `checkpointMetadata` and `sidecar` are parsed and
 * carried but do not affect a snapshot's data; unknown action types are ignored
 * as the protocol allows.
 */
import { ReddStreamError } from '../errors.ts';

export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

export interface Format {
  provider: string;
  options: Record<string, string>;
}

export interface Metadata {
  id: string;
  name?: string | null;
  description?: string | null;
  format: Format;
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

export interface DeletionVector {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number;
  sizeInBytes: number;
  cardinality: number;
}

export interface Add {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVector | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
  clusteringProvider?: string | null;
}

export interface Remove {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean | null;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVector | null;
}

/** Application transaction: the last `version` an application committed (e.g. a Kafka offset). */
export interface Txn {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

export type CommitInfo = Record<string, unknown>;

export interface DomainMetadata {
  domain: string;
  configuration: string;
  removed: boolean;
}

export type Action =
  | { protocol: Protocol }
  | { metaData: Metadata }
  | { add: Add }
  | { remove: Remove }
  | { txn: Txn }
  | { commitInfo: CommitInfo }
  | { cdc: Record<string, unknown> }
  | { domainMetadata: DomainMetadata }
  | { checkpointMetadata: Record<string, unknown> }
  | { sidecar: Record<string, unknown> };

const KNOWN = [
  'protocol',
  'metaData',
  'add',
  'remove',
  'txn',
  'commitInfo',
  'cdc',
  'domainMetadata',
  'checkpointMetadata',
  'sidecar',
] as const;

function corrupt(where: string, what: string): never {
  throw new ReddStreamError('CORRUPT_LOG', `corrupt Delta log ${where}: ${what}`);
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function reqNum(o: Record<string, unknown>, key: string, where: string): number {
  const n = num(o[key]);
  if (n === undefined || !Number.isFinite(n)) {
    corrupt(where, `field "${key}" must be a number, got ${JSON.stringify(o[key] ?? null)}`);
  }
  return n;
}

function reqStr(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') corrupt(where, `field "${key}" must be a string, got ${JSON.stringify(v ?? null)}`);
  return v;
}

function strMap(v: unknown, where: string, key: string): Record<string, string | null> {
  if (v === null || v === undefined) return {};
  if (v instanceof Map) return Object.fromEntries(v) as Record<string, string | null>;
  if (Array.isArray(v)) {
    // [key, value] pairs (read.ts), or {key, value} entries as some checkpoint writers store maps.
    const out: Record<string, string | null> = {};
    for (const e of v) {
      const [k, val] = Array.isArray(e) ? e : [e.key, e.value];
      out[String(k)] = val ?? null;
    }
    return out;
  }
  if (typeof v !== 'object') corrupt(where, `field "${key}" must be an object`);
  const out: Record<string, string | null> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    out[k] = val === null || val === undefined ? null : String(val);
  }
  return out;
}

/**
 * Normalise one action object (from JSON or a checkpoint row) into an Action,
 * validating the fields readers rely on. Returns `null` for unknown actions.
 */
export function normaliseAction(raw: unknown, where: string): Action | null {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) corrupt(where, 'an action must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const kind = KNOWN.find((k) => obj[k] !== undefined && obj[k] !== null);
  if (!kind) return null;
  const body = obj[kind];
  if (!body || typeof body !== 'object') corrupt(where, `"${kind}" must be an object`);
  const o = body as Record<string, unknown>;
  switch (kind) {
    case 'protocol': {
      const p: Protocol = {
        minReaderVersion: reqNum(o, 'minReaderVersion', where),
        minWriterVersion: reqNum(o, 'minWriterVersion', where),
      };
      if (Array.isArray(o.readerFeatures)) p.readerFeatures = o.readerFeatures.map(String);
      if (Array.isArray(o.writerFeatures)) p.writerFeatures = o.writerFeatures.map(String);
      return { protocol: p };
    }
    case 'metaData': {
      const fmt = (o.format ?? {}) as Record<string, unknown>;
      const m: Metadata = {
        id: reqStr(o, 'id', where),
        name: (o.name as string | null | undefined) ?? null,
        description: (o.description as string | null | undefined) ?? null,
        format: {
          provider: typeof fmt.provider === 'string' ? fmt.provider : 'parquet',
          options: strMap(fmt.options, where, 'format.options') as Record<string, string>,
        },
        schemaString: reqStr(o, 'schemaString', where),
        partitionColumns: Array.isArray(o.partitionColumns)
          ? o.partitionColumns.map(String)
          : corrupt(where, 'metaData.partitionColumns must be an array'),
        configuration: strMap(o.configuration, where, 'configuration') as Record<string, string>,
        createdTime: num(o.createdTime) ?? null,
      };
      return { metaData: m };
    }
    case 'add': {
      const a: Add = {
        path: reqStr(o, 'path', where),
        partitionValues: strMap(o.partitionValues, where, 'add.partitionValues'),
        size: reqNum(o, 'size', where),
        modificationTime: num(o.modificationTime) ?? 0,
        dataChange: o.dataChange !== false,
      };
      if (typeof o.stats === 'string') a.stats = o.stats;
      if (o.tags) a.tags = strMap(o.tags, where, 'add.tags') as Record<string, string>;
      if (o.deletionVector) a.deletionVector = o.deletionVector as DeletionVector;
      if (num(o.baseRowId) !== undefined) a.baseRowId = num(o.baseRowId);
      if (num(o.defaultRowCommitVersion) !== undefined) a.defaultRowCommitVersion = num(o.defaultRowCommitVersion);
      return { add: a };
    }
    case 'remove': {
      const r: Remove = { path: reqStr(o, 'path', where), dataChange: o.dataChange !== false };
      const ts = num(o.deletionTimestamp);
      if (ts !== undefined) r.deletionTimestamp = ts;
      if (typeof o.extendedFileMetadata === 'boolean') r.extendedFileMetadata = o.extendedFileMetadata;
      if (o.partitionValues) r.partitionValues = strMap(o.partitionValues, where, 'remove.partitionValues');
      const size = num(o.size);
      if (size !== undefined) r.size = size;
      if (o.deletionVector) r.deletionVector = o.deletionVector as DeletionVector;
      return { remove: r };
    }
    case 'txn': {
      const t: Txn = { appId: reqStr(o, 'appId', where), version: reqNum(o, 'version', where) };
      const lu = num(o.lastUpdated);
      if (lu !== undefined) t.lastUpdated = lu;
      return { txn: t };
    }
    case 'commitInfo':
      return { commitInfo: o };
    case 'cdc':
      return { cdc: o };
    case 'domainMetadata':
      return {
        domainMetadata: {
          domain: reqStr(o, 'domain', where),
          configuration: String(o.configuration ?? ''),
          removed: o.removed === true,
        },
      };
    case 'checkpointMetadata':
      return { checkpointMetadata: o };
    case 'sidecar':
      return { sidecar: o };
  }
}

/** Parse a commit file (newline-delimited JSON actions). `where` names the file in errors. */
export function parseCommit(text: string, where: string): Action[] {
  const actions: Action[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      corrupt(`${where} line ${i + 1}`, `invalid JSON (${(err as Error).message})`);
    }
    const a = normaliseAction(raw, `${where} line ${i + 1}`);
    if (a) actions.push(a);
  }
  return actions;
}

/** Serialise actions to a commit file's bytes. */
export function serializeCommit(actions: Action[]): Uint8Array {
  return new TextEncoder().encode(actions.map((a) => JSON.stringify(a)).join('\n') + '\n');
}

export function actionKind(a: Action): (typeof KNOWN)[number] {
  return Object.keys(a)[0] as (typeof KNOWN)[number];
}

/**
 * The path of an add's data file relative to the table root. The protocol
 * also allows absolute URIs (shallow clones point into another table): those
 * are refused with a clear error rather than looked up under this table.
 */
export function dataFilePath(add: { path: string }, where: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(add.path)) {
    throw new ReddStreamError(
      'UNSUPPORTED_FEATURE',
      `cannot read ${where}: data file ${add.path} is an absolute URI (a shallow clone's, or a table that points into another); this reader reads data files under the table root only`,
    );
  }
  return decodeFilePath(add.path);
}

/** Decoded file-system path of an add/remove `path` (which is a URI-encoded relative path). */
export function decodeFilePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
