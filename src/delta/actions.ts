/**
 * Delta log actions (PROTOCOL.md "Actions"), their parsing from commit JSON and
 * from checkpoint rows, and their serialisation. Actions keep the JSON shape of
 * the protocol (`{ add: {...} }`), so serialisation is `JSON.stringify`.
 *
 * `cdc`, `domainMetadata`, `checkpointMetadata` and `sidecar` are parsed and
 * carried but do not affect a snapshot's data; unknown action types are ignored
 * as the protocol allows.
 *
 * A `metaData` or `protocol` action read from the log is kept unchecked
 * (`LogAction`): a later one replaces it entirely, so only the effective one of
 * a version must carry the fields a snapshot needs (`checkMetadata`,
 * `checkProtocol`, applied by log replay).
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

/**
 * An action as read from a commit file or a checkpoint row: like `Action`,
 * except that `metaData` and `protocol` bodies are not checked yet.
 */
export type LogAction =
  Exclude<Action, { metaData: Metadata } | { protocol: Protocol }> | { metaData: object } | { protocol: object };

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

/** How a field that fails its check looks in an error message: "but it is absent", or "got <value>". */
function shown(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (v === undefined) return 'but it is absent';
  return `got ${typeof v === 'bigint' ? String(v) : JSON.stringify(v)}`;
}

function reqNum(o: Record<string, unknown>, key: string, where: string, prefix = ''): number {
  const n = num(o[key]);
  if (n === undefined || !Number.isFinite(n)) {
    corrupt(where, `field "${prefix}${key}" must be a number, ${shown(o, key)}`);
  }
  return n;
}

function reqStr(o: Record<string, unknown>, key: string, where: string, prefix = ''): string {
  const v = o[key];
  if (typeof v !== 'string') corrupt(where, `field "${prefix}${key}" must be a string, ${shown(o, key)}`);
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
 * Check the body of the effective `protocol` action of a version (pure).
 * `where` says which table, version and action the body comes from.
 */
export function checkProtocol(body: object, where: string): Protocol {
  const o = body as Record<string, unknown>;
  const p: Protocol = {
    minReaderVersion: reqNum(o, 'minReaderVersion', where, 'protocol.'),
    minWriterVersion: reqNum(o, 'minWriterVersion', where, 'protocol.'),
  };
  if (Array.isArray(o.readerFeatures)) p.readerFeatures = o.readerFeatures.map(String);
  if (Array.isArray(o.writerFeatures)) p.writerFeatures = o.writerFeatures.map(String);
  return p;
}

/**
 * Check the body of the effective `metaData` action of a version (pure): the
 * fields a snapshot needs must be present and well typed.
 */
export function checkMetadata(body: object, where: string): Metadata {
  const o = body as Record<string, unknown>;
  const fmt = (o.format ?? {}) as Record<string, unknown>;
  if (!Array.isArray(o.partitionColumns)) {
    corrupt(where, `field "metaData.partitionColumns" must be an array, ${shown(o, 'partitionColumns')}`);
  }
  return {
    id: reqStr(o, 'id', where, 'metaData.'),
    name: typeof o.name === 'string' ? o.name : null,
    description: typeof o.description === 'string' ? o.description : null,
    format: {
      provider: typeof fmt.provider === 'string' ? fmt.provider : 'parquet',
      options: strMap(fmt.options, where, 'metaData.format.options') as Record<string, string>,
    },
    schemaString: reqStr(o, 'schemaString', where, 'metaData.'),
    partitionColumns: o.partitionColumns.map(String),
    configuration: strMap(o.configuration, where, 'metaData.configuration') as Record<string, string>,
    createdTime: num(o.createdTime) ?? null,
  };
}

function deletionVector(v: unknown, where: string): DeletionVector | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object') corrupt(where, 'field "deletionVector" must be an object');
  const o = v as Record<string, unknown>;
  const dv: DeletionVector = {
    storageType: reqStr(o, 'storageType', where, 'deletionVector.'),
    pathOrInlineDv: reqStr(o, 'pathOrInlineDv', where, 'deletionVector.'),
    sizeInBytes: reqNum(o, 'sizeInBytes', where, 'deletionVector.'),
    cardinality: reqNum(o, 'cardinality', where, 'deletionVector.'),
  };
  const offset = num(o.offset);
  if (offset !== undefined) dv.offset = offset;
  return dv;
}

/**
 * Normalise one action object (from JSON or a checkpoint row) into a
 * LogAction, validating the fields readers rely on (`metaData` and
 * `protocol` bodies are checked later, on the effective ones). Returns `null`
 * for unknown actions.
 */
export function normaliseAction(raw: unknown, where: string): LogAction | null {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) corrupt(where, 'an action must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const kind = KNOWN.find((k) => obj[k] !== undefined && obj[k] !== null);
  if (!kind) return null;
  const body = obj[kind];
  if (!body || typeof body !== 'object') corrupt(where, `"${kind}" must be an object`);
  const o = body as Record<string, unknown>;
  switch (kind) {
    case 'protocol':
      return { protocol: o };
    case 'metaData':
      return { metaData: o };
    case 'add':
      return { add: normaliseAdd(o, where) };
    case 'remove':
      return { remove: normaliseRemove(o, where) };
    case 'txn':
      return { txn: normaliseTxn(o, where) };
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

/** Required fields checked, optional ones copied when present; `dataChange` is true unless it is false. */
function normaliseAdd(o: Record<string, unknown>, where: string): Add {
  const a: Add = {
    path: reqStr(o, 'path', where),
    partitionValues: strMap(o.partitionValues, where, 'add.partitionValues'),
    size: reqNum(o, 'size', where),
    modificationTime: num(o.modificationTime) ?? 0,
    dataChange: o.dataChange !== false,
  };
  if (typeof o.stats === 'string') a.stats = o.stats;
  if (o.tags) a.tags = strMap(o.tags, where, 'add.tags') as Record<string, string>;
  const dv = deletionVector(o.deletionVector, where);
  if (dv) a.deletionVector = dv;
  if (num(o.baseRowId) !== undefined) a.baseRowId = num(o.baseRowId);
  if (num(o.defaultRowCommitVersion) !== undefined) a.defaultRowCommitVersion = num(o.defaultRowCommitVersion);
  return a;
}

function normaliseRemove(o: Record<string, unknown>, where: string): Remove {
  const r: Remove = { path: reqStr(o, 'path', where), dataChange: o.dataChange !== false };
  const ts = num(o.deletionTimestamp);
  if (ts !== undefined) r.deletionTimestamp = ts;
  if (typeof o.extendedFileMetadata === 'boolean') r.extendedFileMetadata = o.extendedFileMetadata;
  if (o.partitionValues) r.partitionValues = strMap(o.partitionValues, where, 'remove.partitionValues');
  const size = num(o.size);
  if (size !== undefined) r.size = size;
  const dv = deletionVector(o.deletionVector, where);
  if (dv) r.deletionVector = dv;
  return r;
}

function normaliseTxn(o: Record<string, unknown>, where: string): Txn {
  const t: Txn = { appId: reqStr(o, 'appId', where), version: reqNum(o, 'version', where) };
  const lu = num(o.lastUpdated);
  if (lu !== undefined) t.lastUpdated = lu;
  return t;
}

/** Parse a commit file (newline-delimited JSON actions). `where` names the file in errors. */
export function parseCommit(text: string, where: string): LogAction[] {
  const actions: LogAction[] = [];
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

export function actionKind(a: LogAction): (typeof KNOWN)[number] {
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
