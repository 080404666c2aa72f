/**
 * Reddit rate-limit pacing (pure). Reddit reports, per OAuth client,
 * `X-Ratelimit-Used`, `X-Ratelimit-Remaining` (a float) and
 * `X-Ratelimit-Reset` (seconds until the window resets). Requests are spread
 * evenly over what is left of the window so the limit is never exceeded and
 * never exhausted early; with no headers yet, a conservative default applies
 * (100 requests per minute: one every 600 ms).
 */
export interface RateLimitState {
  remaining: number | null;
  resetAt: number | null;
  used: number | null;
}

export function parseRateLimit(headers: Headers, now: number): RateLimitState {
  const num = (h: string) => {
    const v = headers.get(h);
    if (v === null) return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  };
  const reset = num('x-ratelimit-reset');
  return {
    remaining: num('x-ratelimit-remaining'),
    used: num('x-ratelimit-used'),
    resetAt: reset === null ? null : now + reset * 1000,
  };
}

/** Milliseconds to wait before the next request. */
export function nextDelay(state: RateLimitState, now: number, minIntervalMs = 600): number {
  if (state.remaining === null || state.resetAt === null) return minIntervalMs;
  const windowLeft = Math.max(0, state.resetAt - now);
  if (state.remaining < 1) return windowLeft + 250; // exhausted: wait for the reset
  // Spread the remaining requests over the rest of the window (keep one spare).
  return Math.max(minIntervalMs / 6, windowLeft / Math.max(1, Math.floor(state.remaining) - 1));
}
