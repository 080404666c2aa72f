/**
 * Coded errors. Every error the product raises on purpose is a `ReddStreamError`
 * with a stable `code`, a message that names its subject and says what to do,
 * and an optional `cause`. What a caller may do about it is decided by the
 * code alone (`ERROR_CODES`), never by the message text:
 * - `retryable`: the same call may succeed later (an outage, a lost race);
 * - `needsPerson`: retrying will not help until someone fixes a table, a
 *   setting or a credential.
 * Expected outcomes (commit conflicts, lost races, refusals a caller handles)
 * are values, not errors.
 */
export const ERROR_CODES = {
  // Delta tables and their files
  NOT_FOUND: {},
  NOT_A_DELTA_TABLE: {},
  TABLE_EXISTS: {},
  CORRUPT_LOG: { needsPerson: true },
  CORRUPT_CHECKPOINT: { needsPerson: true },
  MISSING_DATA_FILE: {},
  CORRUPT_DATA_FILE: {},
  UNSUPPORTED_FEATURE: { needsPerson: true },
  VERSION_NOT_FOUND: {},
  INVALID_VERSION: {},
  SCHEMA_MISMATCH: { needsPerson: true },
  INVALID_TABLE_DEFINITION: { needsPerson: true },
  NO_SUCH_COLUMN: { needsPerson: true },
  /** A value that cannot be encoded in its column (bad data, not a bad table). */
  INVALID_DATA: {},
  /** Gave up after many lost commit races. */
  COMMIT_FAILED: { retryable: true },
  // Object stores
  STORAGE_UNAVAILABLE: { retryable: true },
  /** The store answered but refused (missing bucket, denied access, a full disk): retrying waits for a fix. */
  STORAGE_REFUSED: {},
  INVALID_TABLE_URI: { needsPerson: true },
  // The service and its settings
  CONFIG_INVALID: { needsPerson: true },
  USAGE: { needsPerson: true },
  QUERY_FAILED: { needsPerson: true },
  SPOOL_BUSY: {},
  ENCODER_UNAVAILABLE: { needsPerson: true },
  /** The metrics and status server cannot listen where it was told to. */
  ADDRESS_IN_USE: { needsPerson: true },
  // The Reddit API
  REDDIT_UNAVAILABLE: { retryable: true },
  REDDIT_REFUSED: { needsPerson: true },
} as const satisfies Record<string, { retryable?: true; needsPerson?: true }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ReddStreamError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ReddStreamError';
    this.code = code;
  }

  /** The same call may succeed later. */
  get retryable(): boolean {
    return 'retryable' in ERROR_CODES[this.code];
  }

  /** Retrying will not help until a person fixes something. */
  get needsPerson(): boolean {
    return 'needsPerson' in ERROR_CODES[this.code];
  }
}

/** The object does not exist in the store. */
export class NotFoundError extends ReddStreamError {
  readonly path: string;
  constructor(path: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', `object not found: ${path}`, options);
    this.name = 'NotFoundError';
    this.path = path;
  }
}

/** The table needs a protocol feature this implementation does not support. */
export class UnsupportedFeatureError extends ReddStreamError {
  readonly features: string[];
  constructor(features: string[], message: string) {
    super('UNSUPPORTED_FEATURE', message);
    this.name = 'UnsupportedFeatureError';
    this.features = features;
  }
}

export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError;
}

/** Short, single-line description of any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    let msg = err.message;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && !msg.includes(cause.message)) msg += ` (caused by: ${cause.message})`;
    return msg;
  }
  return String(err);
}

/** Failures that retrying soon will not fix (see `ERROR_CODES`). */
export function needsAPerson(err: unknown): err is ReddStreamError {
  return err instanceof ReddStreamError && err.needsPerson;
}

/**
 * Failures of a table store itself (unreachable, refusing, out of space), as
 * opposed to bad data, a bad table or a conflict: the ingest keeps such
 * batches in its spool. Raw `E...` errno errors count too (a local disk).
 */
export function isStorageFailure(err: unknown): boolean {
  if (err instanceof ReddStreamError) {
    return err.code === 'STORAGE_UNAVAILABLE' || err.code === 'STORAGE_REFUSED' || err.code === 'COMMIT_FAILED';
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}
