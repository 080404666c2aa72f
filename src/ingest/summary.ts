/** The per-batch console summary, like the old pipeline's, plus what it cost. */
import { formatTimestampMicros } from '../delta/values.ts';
import type { FlushReason } from './flush-policy.ts';

export interface BatchSummary {
  table: string;
  version: number | null;
  /** True when the store was failing and the batch went to the local spool. */
  spooled?: boolean;
  rows: number;
  deadLetters: number;
  /** Where each dead letter came from and why it was refused. */
  deadLetterReasons: Array<{ topic: string | null; partition: number | null; offset: bigint; error: string }>;
  duplicates: number;
  skipped: number;
  partitions: Array<{ topic: string; partition: number; from: bigint; to: bigint }>;
  ms: number;
  reason: FlushReason;
  /** Per message: ms from its producer timestamp to this commit (end-to-end latency). */
  ages?: number[];
  firstRows: FirstRow[];
}

/** A row shown in the console summary. */
export interface FirstRow {
  subreddit: string | null;
  title: string | null;
  score: number | bigint | null;
  created_utc: number | null;
}

/** The summary of a committed (or spooled) batch. */
export function batchSummary(
  table: string,
  taken: ReadonlyArray<{
    topic: string;
    partition: number;
    dead: ReadonlyArray<{ topic: string | null; partition: number | null; offset: bigint; error: string }>;
    skipped: number;
    firstOffset: bigint | null;
    lastOffset: bigint | null;
    timestamps: number[];
  }>,
  result: { rows: number; duplicates: number; firstRows: BatchSummary['firstRows'] },
  outcome: { kind: 'committed'; versions: Map<string, number> } | { kind: 'spooled' },
  reason: FlushReason,
  started: number,
  committedAt: number,
): BatchSummary {
  return {
    table,
    version: outcome.kind === 'committed' ? (outcome.versions.get(table) ?? null) : null,
    spooled: outcome.kind === 'spooled',
    rows: result.rows,
    deadLetters: taken.reduce((n, st) => n + st.dead.length, 0),
    deadLetterReasons: taken.flatMap((st) =>
      st.dead.map(({ topic, partition, offset, error }) => ({ topic, partition, offset, error })),
    ),
    duplicates: result.duplicates,
    skipped: taken.reduce((s, st) => s + st.skipped, 0),
    partitions: taken.map((st) => ({
      topic: st.topic,
      partition: st.partition,
      from: st.firstOffset!,
      to: st.lastOffset!,
    })),
    ms: performance.now() - started,
    reason,
    ages: taken.flatMap((st) => st.timestamps.map((t) => committedAt - t)),
    firstRows: result.firstRows,
  };
}

function clip(s: string | null, n: number): string {
  if (s === null) return '';
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

export function formatSummary(s: BatchSummary): string[] {
  const rate = s.ms > 0 ? Math.round((s.rows + s.deadLetters) / (s.ms / 1000)) : 0;
  const ranges = s.partitions.map((p) => `${p.topic}[${p.partition}]@${p.from}-${p.to}`).join(' ');
  const lines = [
    `batch ${s.table} ${s.spooled ? 'SPOOLED (store unavailable)' : `v${s.version ?? '-'}`}: ${s.rows} posts` +
      (s.deadLetters ? `, ${s.deadLetters} dead letters` : '') +
      (s.duplicates ? `, ${s.duplicates} duplicates merged` : '') +
      (s.skipped ? `, ${s.skipped} already committed` : '') +
      ` in ${s.ms.toFixed(0)} ms (${rate} posts/s, flush: ${s.reason}) ${ranges}`,
  ];
  for (const r of s.firstRows) {
    const ts =
      r.created_utc === null
        ? ''
        : formatTimestampMicros(BigInt(Math.round(r.created_utc * 1e6)))
            .slice(0, 19)
            .replace('T', ' ') + 'Z';
    lines.push(
      `  r/${(r.subreddit ?? '?').padEnd(16)} ${String(r.score ?? '').padStart(6)}  ${ts.padEnd(20)} ${clip(r.title, 70)}`,
    );
  }
  return lines;
}
