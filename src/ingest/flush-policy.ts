/**
 * Flush policy (pure): which topics to flush now, and why. Every trigger
 * lives here; the run loop only evaluates it (on every poll and on a timer,
 * so the latency limit holds even when no message arrives) and schedules.
 *
 * A partition buffer is due when it holds `maxMessages` messages, `maxBytes`
 * bytes, or its oldest message has waited `maxLatencyMs`. The byte limit also
 * holds per table (all partitions of a topic share one commit), which bounds
 * memory however many partitions are assigned.
 *
 * The tail of a catch-up: when the source has delivered nothing for a
 * quarter of the latency limit (at least 100 ms) and a table holds at least
 * `QUIET_FLUSH_MIN_BYTES`, it is flushed then instead of at its latency
 * limit. At steady rates a table never holds that much within the limit, and
 * a bursty stream is flushed at most once per burst that ends with such a
 * pause. A finite source that has delivered everything flushes what is left.
 */
export interface FlushPolicy {
  maxMessages: number;
  maxBytes: number;
  maxLatencyMs: number;
}

export type FlushReason = 'messages' | 'bytes' | 'latency' | 'caught up' | 'end of input' | 'shutdown';

export const QUIET_FLUSH_MIN_BYTES = 1024 * 1024;

export function quietFlushMs(policy: FlushPolicy): number {
  return Math.max(100, policy.maxLatencyMs / 4);
}

export interface BufferState {
  messages: number;
  bytes: number;
  /** Clock time the oldest buffered message arrived, or null when empty. */
  firstAt: number | null;
}

/** What the source says about itself when the flushes are decided. */
export interface SourceState {
  /** Milliseconds since the source last delivered a message. */
  quietForMs: number;
  /** The source will deliver nothing more (and its last poll was empty). */
  exhausted: boolean;
}

export function shouldFlush(buf: BufferState, now: number, policy: FlushPolicy): FlushReason | null {
  if (buf.messages === 0 || buf.firstAt === null) return null;
  if (buf.messages >= policy.maxMessages) return 'messages';
  if (buf.bytes >= policy.maxBytes) return 'bytes';
  if (now - buf.firstAt >= policy.maxLatencyMs) return 'latency';
  return null;
}

/** The topics due for a flush, each with the first reason that applies. */
export function dueTopics(
  buffers: Iterable<BufferState & { topic: string }>,
  now: number,
  policy: FlushPolicy,
  source?: SourceState,
): Map<string, FlushReason> {
  const due = new Map<string, FlushReason>();
  const held = new Map<string, { messages: number; bytes: number }>();
  for (const b of buffers) {
    const r = shouldFlush(b, now, policy);
    if (r && !due.has(b.topic)) due.set(b.topic, r);
    const t = held.get(b.topic) ?? { messages: 0, bytes: 0 };
    held.set(b.topic, { messages: t.messages + b.messages, bytes: t.bytes + b.bytes });
  }
  const quiet = source !== undefined && source.quietForMs >= quietFlushMs(policy);
  for (const [topic, t] of held) {
    if (due.has(topic)) continue;
    if (t.bytes >= policy.maxBytes) due.set(topic, 'bytes');
    else if (quiet && t.bytes > 0 && t.bytes >= QUIET_FLUSH_MIN_BYTES) due.set(topic, 'caught up');
    else if (source?.exhausted && t.messages > 0) due.set(topic, 'end of input');
  }
  return due;
}

/** Milliseconds until the latency limit of this buffer expires (for the timer). */
export function msUntilDue(buf: BufferState, now: number, policy: FlushPolicy): number | null {
  if (buf.messages === 0 || buf.firstAt === null) return null;
  return Math.max(0, buf.firstAt + policy.maxLatencyMs - now);
}
