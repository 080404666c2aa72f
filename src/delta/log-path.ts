/**
 * Delta log file names. Versions are zero-padded to 20 digits:
 *   _delta_log/00000000000000000007.json                                commit
 *   _delta_log/00000000000000000010.checkpoint.parquet                  classic checkpoint
 *   _delta_log/00000000000000000010.checkpoint.0000000001.0000000003.parquet  multi-part
 *   _delta_log/00000000000000000010.checkpoint.<uuid>.(json|parquet)    v2 checkpoint (unsupported)
 *   _delta_log/_last_checkpoint                                         checkpoint hint
 */
export const LOG_DIR = '_delta_log';
export const LAST_CHECKPOINT = `${LOG_DIR}/_last_checkpoint`;

export function padVersion(version: number): string {
  return String(version).padStart(20, '0');
}

export function commitPath(version: number): string {
  return `${LOG_DIR}/${padVersion(version)}.json`;
}

export function checkpointPath(version: number): string {
  return `${LOG_DIR}/${padVersion(version)}.checkpoint.parquet`;
}

export function multiPartCheckpointPath(version: number, part: number, parts: number): string {
  return `${LOG_DIR}/${padVersion(version)}.checkpoint.${String(part).padStart(10, '0')}.${String(parts).padStart(10, '0')}.parquet`;
}

export type LogFile =
  | { kind: 'commit'; version: number; path: string; size: number }
  | { kind: 'checkpoint'; version: number; path: string; size: number; part: number; parts: number }
  | { kind: 'v2checkpoint'; version: number; path: string; size: number }
  | { kind: 'other'; path: string; size: number };

const COMMIT_RE = /^(\d{20})\.json$/;
const CHECKPOINT_RE = /^(\d{20})\.checkpoint\.parquet$/;
const MULTIPART_RE = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const V2_RE = /^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(json|parquet)$/;

/** Classify a path under `_delta_log/` (relative to the table root). */
export function parseLogPath(path: string, size: number): LogFile {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (path !== `${LOG_DIR}/${name}`) return { kind: 'other', path, size };
  let m = COMMIT_RE.exec(name);
  if (m) return { kind: 'commit', version: Number(m[1]), path, size };
  m = CHECKPOINT_RE.exec(name);
  if (m) return { kind: 'checkpoint', version: Number(m[1]), path, size, part: 1, parts: 1 };
  m = MULTIPART_RE.exec(name);
  if (m) return { kind: 'checkpoint', version: Number(m[1]), path, size, part: Number(m[2]), parts: Number(m[3]) };
  m = V2_RE.exec(name);
  if (m) return { kind: 'v2checkpoint', version: Number(m[1]), path, size };
  return { kind: 'other', path, size };
}
