/**
 * Retention settings of a table (PROTOCOL.md, table properties): how long a
 * removed data file stays for time travel (`delta.deletedFileRetentionDuration`,
 * default 1 week) and how long log entries stay
 * (`delta.logRetentionDuration`, default 30 days), given as intervals such as
 * "interval 7 days". A value that cannot be read falls back to the default.
 */
const UNIT_MS: Record<string, number> = {
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};

export const DEFAULT_TOMBSTONE_RETENTION_MS = UNIT_MS.week;
export const DEFAULT_LOG_RETENTION_MS = 30 * UNIT_MS.day;

/** An interval ("interval 7 days", "2 hours") in ms, or null when it cannot be read. */
export function parseInterval(s: string): number | null {
  const m = /^\s*(?:interval\s+)?(\d+)\s*([a-z]+?)s?\s*$/i.exec(s);
  if (!m) return null;
  const unit = UNIT_MS[m[2].toLowerCase()];
  return unit === undefined ? null : Number(m[1]) * unit;
}

/** How long removed files stay (vacuum, tombstones in checkpoints). */
export function tombstoneRetentionMs(configuration: Record<string, string>): number {
  const s = configuration['delta.deletedFileRetentionDuration'];
  return (s === undefined ? null : parseInterval(s)) ?? DEFAULT_TOMBSTONE_RETENTION_MS;
}

/** How long log entries stay (expired log cleanup). */
export function logRetentionMs(configuration: Record<string, string>): number {
  const s = configuration['delta.logRetentionDuration'];
  return (s === undefined ? null : parseInterval(s)) ?? DEFAULT_LOG_RETENTION_MS;
}
