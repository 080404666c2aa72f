/**
 * Partition directories: `col=value/` with Hive-style escaping of the value
 * (as Spark and delta-rs write it), null as `__HIVE_DEFAULT_PARTITION__`; the
 * `add.path` is that relative path URI-encoded once more (so `%` becomes `%25`).
 */
export const NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

const HIVE_ESCAPE = new Set(['"', '#', '%', "'", '*', '/', ':', '=', '?', '\\', '\x7f', '{', '[', ']', '^']);

export function escapePartitionValue(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if ((c < 0x20 && ch.length === 1) || HIVE_ESCAPE.has(ch)) out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** Directory (decoded, as on disk) for an ordered list of partition values. */
export function partitionDir(columns: string[], values: Array<string | null>): string {
  return columns.map((c, i) => `${escapePartitionValue(c)}=${values[i] === null || values[i] === '' ? NULL_PARTITION : escapePartitionValue(values[i]!)}`).join('/');
}

/** URI-encode a relative file path for `add.path` (each segment; '=' kept readable). */
export function encodeAddPath(decoded: string): string {
  return decoded.split('/').map((seg) => encodeURIComponent(seg).replace(/%3D/g, '=')).join('/');
}
