/**
 * Partition directories: `col=value/` with the value percent-escaped (a
 * superset of Hive's escaping), null as `__HIVE_DEFAULT_PARTITION__`; the
 * `add.path` is that relative path URI-encoded once more (so `%` becomes `%25`).
 */
export const NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

// Characters kept as they are in directory names; everything else (Hive's
// escape set, spaces, non-ASCII...) is percent-encoded as UTF-8 bytes. Delta
// readers take values from `partitionValues` and paths from `add.path`, so a
// stricter escape than Spark's is always readable, and it keeps object keys
// identical whichever way a reader's object store normalises them (delta-rs on
// S3 turns a space into %20, for instance).
const SAFE = /^[A-Za-z0-9._\-!$&()+,;@]$/;
const utf8 = new TextEncoder();

export function escapePartitionValue(s: string): string {
  let out = '';
  for (const ch of s) {
    if (SAFE.test(ch)) out += ch;
    else for (const b of utf8.encode(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Directory (decoded, as on disk) for an ordered list of partition values. */
export function partitionDir(columns: string[], values: Array<string | null>): string {
  return columns
    .map(
      (c, i) =>
        `${escapePartitionValue(c)}=${values[i] === null || values[i] === '' ? NULL_PARTITION : escapePartitionValue(values[i]!)}`,
    )
    .join('/');
}

/** URI-encode a relative file path for `add.path` (each segment; '=' kept readable). */
export function encodeAddPath(decoded: string): string {
  return decoded
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/%3D/g, '='))
    .join('/');
}
