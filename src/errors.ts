/**
 * Coded errors. Every error the product raises on purpose is a `ReddStreamError`
 * with a stable `code`, a message that names its subject and says what to do,
 * an optional `cause`, and a `retryable` flag for callers that loop.
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'NOT_A_DELTA_TABLE'
  | 'CORRUPT_LOG'
  | 'CORRUPT_CHECKPOINT'
  | 'MISSING_DATA_FILE'
  | 'CORRUPT_DATA_FILE'
  | 'UNSUPPORTED_FEATURE'
  | 'VERSION_NOT_FOUND'
  | 'SCHEMA_MISMATCH'
  | 'INVALID_ARGUMENT'
  | 'COMMIT_FAILED'
  | 'STORAGE';

export class ReddStreamError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ReddStreamError';
    this.code = code;
    this.retryable = options?.retryable ?? false;
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

/**
 * Failures that retrying soon will not fix: a table that cannot hold the
 * data, needs a feature this code lacks, or is corrupt needs a person.
 */
export function needsAPerson(err: unknown): err is ReddStreamError {
  return (
    err instanceof ReddStreamError &&
    ['SCHEMA_MISMATCH', 'UNSUPPORTED_FEATURE', 'CORRUPT_LOG', 'CORRUPT_CHECKPOINT', 'INVALID_ARGUMENT'].includes(
      err.code,
    )
  );
}
