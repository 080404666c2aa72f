/**
 * Flush policy (pure): a partition buffer is flushed when it holds
 * `maxMessages` messages, `maxBytes` bytes, or its oldest message has waited
 * `maxLatencyMs`. The run loop evaluates it on every message and on a timer,
 * so the latency limit holds even when no message arrives.
 */
export interface FlushPolicy {
  maxMessages: number;
  maxBytes: number;
  maxLatencyMs: number;
}

/**
 * The tail of a catch-up: when the source has delivered nothing for a
 * quarter of the latency limit (at least 100 ms) and a table holds at least
 * 1 MiB, it is flushed then instead of at its latency limit (bench:kafka's
 * last batches waited up to a second for the timer). At steady rates a table
 * never holds that much within the limit (1 MiB is ~290 posts; 200 posts/s
 * bring ~0.7 MB/s), and a bursty stream is flushed at most once per burst
 * that ends with such a pause; a longer `processing_interval` lengthens the
 * pause needed.
 */
export const QUIET_FLUSH_MIN_BYTES = 1024 * 1024;

export function quietFlushMs(policy: FlushPolicy): number {
  return Math.max(100, policy.maxLatencyMs / 4);
}

/** Defaults: low latency without tuning, bounded memory. */
export const DEFAULT_FLUSH_POLICY: FlushPolicy = { maxMessages: 5000, maxBytes: 32 * 1024 * 1024, maxLatencyMs: 1000 };

export interface BufferState {
  messages: number;
  bytes: number;
  /** Clock time the oldest buffered message arrived, or null when empty. */
  firstAt: number | null;
}

export type FlushReason = 'messages' | 'bytes' | 'latency';

export function shouldFlush(buf: BufferState, now: number, policy: FlushPolicy): FlushReason | null {
  if (buf.messages === 0 || buf.firstAt === null) return null;
  if (buf.messages >= policy.maxMessages) return 'messages';
  if (buf.bytes >= policy.maxBytes) return 'bytes';
  if (now - buf.firstAt >= policy.maxLatencyMs) return 'latency';
  return null;
}

/** Milliseconds until the latency limit of this buffer expires (for the timer). */
export function msUntilDue(buf: BufferState, now: number, policy: FlushPolicy): number | null {
  if (buf.messages === 0 || buf.firstAt === null) return null;
  return Math.max(0, buf.firstAt + policy.maxLatencyMs - now);
}
