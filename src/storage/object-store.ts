/**
 * The ObjectStore port: the only way the Delta core reaches storage.
 *
 * Paths are relative to the store's root (a table root), '/'-separated, never
 * starting with '/'. Implementations: local filesystem, in-memory, (later) S3.
 *
 * Invariants every implementation keeps:
 * - `putIfAbsent` is atomic: of two racing writers of the same path exactly one
 *   gets `true`; the loser gets `false` and the winner's bytes stay intact.
 * - A reader never sees a partially written object (`put` and `putIfAbsent`
 *   publish complete objects only).
 * - `list` returns every object under a prefix, sorted by path (byte order).
 */
export interface ObjectMeta {
  /** Path relative to the store root. */
  path: string;
  size: number;
  lastModified: Date;
}

export interface ListOptions {
  /** Only return paths strictly greater than this one (S3 `StartAfter`). */
  startAfter?: string;
}

export interface ObjectStore {
  /** Human-readable location of the root, e.g. `file:///data/lake/t` (never contains secrets). */
  readonly url: string;
  /** Whole object. Throws `NotFoundError` when missing. */
  get(path: string): Promise<Uint8Array>;
  /** Bytes [start, end) of an object. Throws `NotFoundError` when missing. */
  getRange(path: string, start: number, end: number): Promise<Uint8Array>;
  /** Metadata, or `null` when the object does not exist. */
  head(path: string): Promise<ObjectMeta | null>;
  /** All objects whose path starts with `prefix`, recursively, sorted by path. */
  list(prefix: string, options?: ListOptions): Promise<ObjectMeta[]>;
  /** Create or replace an object atomically. */
  put(path: string, data: Uint8Array): Promise<void>;
  /** Create an object only if absent. `true` if created, `false` if it already existed. */
  putIfAbsent(path: string, data: Uint8Array): Promise<boolean>;
  /** Delete an object; deleting a missing object is not an error. */
  delete(path: string): Promise<void>;
}

/** Byte-order comparison of two strings (UTF-8 order == code point order). */
export function comparePaths(a: string, b: string): number {
  return compareCodePoints(a, b);
}

/** Compare strings by Unicode code point (which equals UTF-8 byte order), not UTF-16 code units. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

// Surrogates (U+D800..U+DFFF) encode code points above U+FFFF, so they must sort
// after U+E000..U+FFFF; shift both ranges to restore code point order.
function fixup(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}

export function validateRelativePath(path: string): void {
  if (path === '' || path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '.')) {
    throw new Error(`invalid object path ${JSON.stringify(path)}: must be relative, without '.' or '..' segments`);
  }
}
