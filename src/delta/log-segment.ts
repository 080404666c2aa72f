/**
 * Log segment planning (pure): given the files listed under `_delta_log/`,
 * decide which checkpoint and which commit files rebuild a version.
 *
 * The newest *complete* classic checkpoint (all parts of a multi-part set
 * present) at or before the target is the base; every commit after it up to the
 * target must exist, without gaps. Without a usable checkpoint the log must
 * start at version 0. `_last_checkpoint` is only a hint for where to start
 * listing; a stale or missing hint never changes the result.
 */
import { ReddStreamError, UnsupportedFeatureError } from '../errors.ts';
import { parseLogPath, type LogFile } from './log-path.ts';

export interface CheckpointRef {
  version: number;
  /** Part files in part order. */
  paths: string[];
  sizes: number[];
}

export interface LogSegment {
  version: number;
  checkpoint: CheckpointRef | null;
  /** Commit files after the checkpoint, ascending. */
  commits: Array<{ version: number; path: string }>;
}

export interface ListedLog {
  commits: Map<number, string>;
  checkpoints: CheckpointRef[];
  /** Highest version seen in any commit or checkpoint, -1 if none. */
  latest: number;
  earliestCommit: number;
  /** Versions of V2 (UUID-named) checkpoints, which this reader cannot use. */
  v2Checkpoints: number[];
}

export function classifyLog(entries: Array<{ path: string; size: number }>): ListedLog {
  const commits = new Map<number, string>();
  const parts = new Map<string, Array<Extract<LogFile, { kind: 'checkpoint' }>>>();
  let latest = -1;
  let earliestCommit = Number.POSITIVE_INFINITY;
  const v2Checkpoints: number[] = [];
  for (const e of entries) {
    const f = parseLogPath(e.path, e.size);
    if (f.kind === 'commit') {
      commits.set(f.version, f.path);
      latest = Math.max(latest, f.version);
      earliestCommit = Math.min(earliestCommit, f.version);
    } else if (f.kind === 'checkpoint') {
      const key = `${f.version}/${f.parts}`;
      const list = parts.get(key) ?? [];
      list.push(f);
      parts.set(key, list);
    } else if (f.kind === 'v2checkpoint') {
      v2Checkpoints.push(f.version);
    }
  }
  const checkpoints: CheckpointRef[] = [];
  for (const list of parts.values()) {
    const n = list[0].parts;
    const byPart = new Map(list.map((f) => [f.part, f]));
    if (byPart.size !== n) continue; // incomplete multi-part checkpoint: unusable
    const ordered = Array.from({ length: n }, (_, i) => byPart.get(i + 1));
    if (ordered.some((f) => !f)) continue;
    checkpoints.push({
      version: list[0].version,
      paths: ordered.map((f) => f!.path),
      sizes: ordered.map((f) => f!.size),
    });
    latest = Math.max(latest, list[0].version);
  }
  checkpoints.sort((a, b) => a.version - b.version);
  return { commits, checkpoints, latest, earliestCommit, v2Checkpoints };
}

/** Choose the checkpoint and commits that rebuild `target` (default: latest). */
export function planLogSegment(log: ListedLog, where: string, target?: number): LogSegment {
  if (log.latest < 0) {
    throw new ReddStreamError(
      'NOT_A_DELTA_TABLE',
      `no Delta table at ${where}: _delta_log/ has no commit or checkpoint files`,
    );
  }
  const version = target ?? log.latest;
  if (!Number.isInteger(version) || version < 0) {
    throw new ReddStreamError('INVALID_VERSION', `invalid table version ${version}`);
  }
  if (version > log.latest) {
    throw new ReddStreamError(
      'VERSION_NOT_FOUND',
      `version ${version} of ${where} does not exist: the latest version is ${log.latest}`,
    );
  }
  let checkpoint: CheckpointRef | null = null;
  for (const c of log.checkpoints) if (c.version <= version) checkpoint = c;
  const start = checkpoint ? checkpoint.version + 1 : 0;
  if (!checkpoint && !log.commits.has(0)) {
    if (log.v2Checkpoints.some((v) => v <= version)) {
      throw new UnsupportedFeatureError(
        ['v2Checkpoint'],
        `cannot read ${where}: its log before version ${Number.isFinite(log.earliestCommit) ? log.earliestCommit : version} is only kept in a V2 checkpoint (table feature v2Checkpoint), which this reader does not support`,
      );
    }
    throw new ReddStreamError(
      'VERSION_NOT_FOUND',
      `version ${version} of ${where} cannot be reconstructed: the log starts at version ${Number.isFinite(log.earliestCommit) ? log.earliestCommit : '?'} and there is no checkpoint at or before ${version} (older versions were cleaned up)`,
    );
  }
  const commits: Array<{ version: number; path: string }> = [];
  for (let v = start; v <= version; v++) {
    const path = log.commits.get(v);
    if (!path) {
      throw new ReddStreamError(
        'CORRUPT_LOG',
        `the log of ${where} is missing commit file ${String(v).padStart(20, '0')}.json (needed to reach version ${version})`,
      );
    }
    commits.push({ version: v, path });
  }
  return { version, checkpoint, commits };
}
