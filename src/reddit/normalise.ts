/**
 * Post normalisation: message bytes -> validated columns, without building
 * intermediate row objects. Each message is parsed once and its fields are
 * coerced straight into per-column arrays (the representation of
 * `delta/values.ts`).
 *
 * Rules (see post-schema.ts for the columns):
 * - a message that is not JSON, not an object, has no non-empty string `id`,
 *   is larger than `maxMessageBytes`, or carries a value that cannot be
 *   coerced losslessly becomes a dead letter with the reason; the rest of the
 *   batch is unaffected;
 * - nested objects/arrays in string columns become JSON strings; numbers and
 *   booleans in string columns become their text (e.g. `banned_by: true`);
 * - integers must be exact (1.0 is fine, 1.5 is not); doubles accept integers;
 * - `edited: <epoch>` gives `edited = true`, `edited_at = <epoch>`;
 * - `created_utc` and a numeric `edited` must fall in years 1 to 9999 (they
 *   become timestamps);
 * - a message nested deeper than MAX_NESTING levels is rejected;
 * - duplicates of an `id` within a batch: the last one wins;
 * - unknown fields: "keep" stores them in `extra_fields` (JSON), "drop"
 *   discards them (the old pipeline's behaviour).
 */
import type { ColumnBatch } from '../parquet/data-model.ts';
import type { DeltaValue } from '../delta/values.ts';
import { EXTRA_FIELDS_COLUMN, POST_FIELDS, type PostFieldType, type UnknownFieldPolicy } from './post-schema.ts';

export interface NormaliseOptions {
  unknownFields?: UnknownFieldPolicy;
  /** Messages larger than this are dead-lettered (default 1 MiB; Reddit posts are far smaller). */
  maxMessageBytes?: number;
}

export type AddResult =
  { ok: true; id: string; subreddit: string | null; duplicate: boolean } | { ok: false; reason: string };

export interface NormalisedBatch extends ColumnBatch {
  ids: string[];
  /** Raw `subreddit` value per row (not validated). */
  subreddits: Array<string | null>;
  /** For each row, the caller's reference of the message that produced it (last one for duplicates). */
  refs: number[];
  duplicates: number;
}

/** The largest message accepted as a post (`max_message_bytes`). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

class CoercionError extends Error {}

const decoder = new TextDecoder('utf-8', { fatal: true });

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s && s.length > 40 ? s.slice(0, 40) + '…' : s}`;
}

function coerce(name: string, type: PostFieldType, v: unknown): DeltaValue {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'object') return JSON.stringify(v);
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      break;
    case 'long':
      // Safe integers stay numbers (no BigInt allocation per value); the
      // Arrow builder and stats accept both.
      if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
      if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) return Number(v);
      break;
    case 'double':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
      break;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      break;
  }
  throw new CoercionError(`field "${name}": expected ${type}, got ${describe(v)}`);
}

/**
 * Deepest JSON nesting a message may have (the post object is level 1).
 * Reddit posts use about 6; a deeper message is a dead letter, so no
 * encoder has to recurse through (or stringify) arbitrarily deep input.
 */
export const MAX_NESTING = 64;

/** Whether a parsed JSON value nests more than `limit` levels (stops descending at the limit). */
function deeperThan(v: unknown, limit: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (limit <= 0) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (deeperThan(x, limit - 1)) return true;
    return false;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) if (Object.hasOwn(o, k) && deeperThan(o[k], limit - 1)) return true;
  return false;
}

const FIELD_COUNT = POST_FIELDS.length;
const FIELD_INDEX: ReadonlyMap<string, number> = new Map(POST_FIELDS.map(([name], i) => [name, i]));
const FIELD_TYPES: readonly PostFieldType[] = POST_FIELDS.map(([, type]) => type);
const EDITED = FIELD_INDEX.get('edited')!;
const CREATED_UTC = FIELD_INDEX.get('created_utc')!;

/**
 * Epoch seconds that give a timestamp column a value: years 0001-9999, the
 * range every Delta reader (Spark, delta-rs, Trino) and our stats accept.
 * Outside it a post is a dead letter, not a flush that cannot be encoded.
 */
export const MIN_EPOCH_SECONDS = -62135596800; // 0001-01-01T00:00:00Z
export const MAX_EPOCH_SECONDS = 253402300799; // 9999-12-31T23:59:59Z

/** Why a post's `id` (not a non-empty string) is refused. */
function badIdReason(id: unknown): string {
  return id === undefined || id === null
    ? 'post has no "id"'
    : `post "id" must be a non-empty string, got ${describe(id)}`;
}

function epochMicros(name: string, seconds: number): bigint {
  // Up to the last whole second of 9999: a later fraction would make the
  // stats' max (rounded up to milliseconds) fall in year 10000.
  if (!(seconds >= MIN_EPOCH_SECONDS && seconds <= MAX_EPOCH_SECONDS)) {
    throw new CoercionError(`field "${name}": ${seconds} is not an epoch time in years 1 to 9999`);
  }
  return BigInt(Math.round(seconds * 1e6));
}

export class PostBatchBuilder {
  private readonly policy: UnknownFieldPolicy;
  private readonly maxBytes: number;
  private columns: Record<string, DeltaValue[]> = {};
  /** Column arrays in POST_FIELDS order (avoids a name lookup per value). */
  private ordered: DeltaValue[][] = [];
  private ids: string[] = [];
  private subreddits: Array<string | null> = [];
  private refs: number[] = [];
  private byId = new Map<string, number>();
  private duplicates = 0;
  /** One post's coerced values, reused (copied into the columns once the whole post is valid). */
  private readonly scratch = new Array<DeltaValue>(FIELD_COUNT).fill(null);
  /** The scratch row's `edited_at` and `created_at` values and its unknown fields (policy "keep"). */
  private editedAt: DeltaValue = null;
  private createdAt: DeltaValue = null;
  private unknown: Record<string, unknown> | null = null;

  constructor(options: NormaliseOptions = {}) {
    this.policy = options.unknownFields ?? 'keep';
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.reset();
  }

  get size(): number {
    return this.ids.length;
  }

  private reset(): void {
    this.columns = {};
    for (const [name] of POST_FIELDS) this.columns[name] = [];
    this.ordered = POST_FIELDS.map(([name]) => this.columns[name]);
    this.columns.created_at = [];
    this.columns.edited_at = [];
    if (this.policy === 'keep') this.columns[EXTRA_FIELDS_COLUMN] = [];
    this.ids = [];
    this.subreddits = [];
    this.refs = [];
    this.byId = new Map();
    this.duplicates = 0;
  }

  /** Parse, validate and add one message. `ref` is the caller's handle (offset, line number...). */
  add(message: Uint8Array | string, ref = 0): AddResult {
    const size = typeof message === 'string' ? message.length : message.byteLength;
    if (size > this.maxBytes) return { ok: false, reason: `message too large: ${size} bytes (limit ${this.maxBytes})` };
    let text: string;
    try {
      text = typeof message === 'string' ? message : decoder.decode(message);
    } catch {
      return { ok: false, reason: 'message is not valid UTF-8' };
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
    }
    return this.addParsed(obj, ref);
  }

  /** Add an already parsed post object. */
  addParsed(obj: unknown, ref = 0): AddResult {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      return { ok: false, reason: `not a JSON object (got ${describe(obj)})` };
    }
    const post = obj as Record<string, unknown>;
    const id = Object.hasOwn(post, 'id') ? post.id : undefined;
    if (typeof id !== 'string' || id === '') return { ok: false, reason: badIdReason(id) };
    const reason = this.coerceRow(post);
    if (reason !== null) return { ok: false, reason };
    const sub = typeof post.subreddit === 'string' ? post.subreddit : null;
    const duplicate = this.storeRow(id, ref, sub);
    return { ok: true, id, subreddit: sub, duplicate };
  }

  /**
   * Coerce the post's fields into the scratch row (and `editedAt`,
   * `createdAt`, `unknown`); the reason when one cannot be. The row is stored
   * only once every field is valid, so a bad field rejects the whole message.
   * One pass over the post's own keys (JSON.parse makes every key an own data
   * property, "__proto__" included).
   */
  private coerceRow(post: Record<string, unknown>): string | null {
    this.scratch.fill(null);
    this.editedAt = null;
    this.createdAt = null;
    this.unknown = null;
    try {
      for (const name in post) {
        if (Object.hasOwn(post, name)) this.coerceField(name, post[name]);
      }
      const cu = this.scratch[CREATED_UTC];
      if (typeof cu === 'number' && Number.isFinite(cu)) this.createdAt = epochMicros('created_utc', cu);
    } catch (err) {
      if (err instanceof CoercionError) return err.message;
      throw err;
    }
    return null;
  }

  /** Coerce one field into the scratch row (or `unknown`); throws CoercionError when it cannot be. */
  private coerceField(name: string, raw: unknown): void {
    const i = FIELD_INDEX.get(name);
    if (typeof raw === 'object' && raw !== null && deeperThan(raw, MAX_NESTING - 1)) {
      throw new CoercionError(`JSON nested deeper than ${MAX_NESTING} levels (field "${name}")`);
    }
    if (i === undefined) {
      // A null-prototype object: a "__proto__" key stays an ordinary key.
      if (this.policy === 'keep') (this.unknown ??= Object.create(null) as Record<string, unknown>)[name] = raw;
      return;
    }
    if (i === EDITED && typeof raw === 'number') {
      if (!Number.isFinite(raw)) {
        throw new CoercionError(`field "edited": expected false or an epoch number, got ${raw}`);
      }
      this.scratch[i] = true;
      this.editedAt = epochMicros('edited', raw);
      return;
    }
    this.scratch[i] = coerce(name, FIELD_TYPES[i], raw);
  }

  /**
   * Copy the coerced row into the columns: a new row, or over the row of an
   * earlier post with the same id in this segment (the last one wins).
   * Returns whether it was such a duplicate.
   */
  private storeRow(id: string, ref: number, sub: string | null): boolean {
    const extra = this.unknown ? JSON.stringify(this.unknown) : null;
    let row = this.byId.get(id);
    const duplicate = row !== undefined;
    if (row === undefined) {
      row = this.ids.length;
      this.byId.set(id, row);
      this.ids.push(id);
      this.subreddits.push(null);
      this.refs.push(ref);
    } else {
      this.duplicates++;
      this.refs[row] = ref;
    }
    const values = this.scratch;
    for (let i = 0; i < values.length; i++) this.ordered[i][row] = values[i];
    this.columns.created_at[row] = this.createdAt;
    this.columns.edited_at[row] = this.editedAt;
    if (this.policy === 'keep') this.columns[EXTRA_FIELDS_COLUMN][row] = extra;
    this.subreddits[row] = sub;
    return duplicate;
  }

  /**
   * Start a new segment (e.g. the next source partition): duplicates are
   * resolved within a segment only; rows keep accumulating in one batch.
   */
  startSegment(): void {
    this.byId = new Map();
  }

  /** The accumulated batch; the builder starts empty again. */
  build(): NormalisedBatch {
    const out: NormalisedBatch = {
      numRows: this.ids.length,
      columns: this.columns,
      ids: this.ids,
      subreddits: this.subreddits,
      refs: this.refs,
      duplicates: this.duplicates,
    };
    this.reset();
    return out;
  }
}
