/**
 * New-post detection (pure state): a bounded LRU set of seen fullnames and a
 * `before` anchor. Listings arrive newest first; unseen posts are emitted
 * oldest to newest. When the anchor post is removed, Reddit answers `before`
 * with an empty listing forever, so an empty answer with an anchor re-reads
 * the head (no `before`) and lets the seen-set drop repeats. The state
 * serialises to JSON so a restart neither re-sends nor skips.
 */
export interface PollerState {
  anchor: string | null;
  seen: string[];
  emptyPolls: number;
}

export class NewPostTracker {
  private readonly max: number;
  private seen = new Map<string, true>();
  anchor: string | null = null;
  /** Consecutive polls without anything new (drives the idle backoff). */
  emptyPolls = 0;
  private lastWasAnchoredEmpty = false;

  constructor(maxSeen = 10_000, state?: PollerState) {
    this.max = maxSeen;
    if (state) {
      this.anchor = state.anchor;
      this.emptyPolls = state.emptyPolls;
      for (const s of state.seen.slice(-maxSeen)) this.seen.set(s, true);
    }
  }

  hasSeen(name: string): boolean {
    return this.seen.has(name);
  }
  get seenCount(): number {
    return this.seen.size;
  }

  /** Query parameters for the next request. */
  params(): Record<string, string> {
    const p: Record<string, string> = { limit: '100' };
    if (this.anchor && !this.lastWasAnchoredEmpty) p.before = this.anchor;
    return p;
  }

  /** Feed a listing (newest first); returns the unseen posts oldest first. */
  accept(children: Array<{ kind: string; data: Record<string, unknown> }>): Array<Record<string, unknown>> {
    const usedAnchor = this.params().before !== undefined;
    const fresh: Array<Record<string, unknown>> = [];
    const taken = new Set<string>();
    for (const c of children) {
      const name = typeof c.data?.name === 'string' ? c.data.name : null;
      // A post may appear twice in what was read (pages of a listing whose ranking shifted): once.
      if (c.kind !== 't3' || !name || this.seen.has(name) || taken.has(name)) continue;
      taken.add(name);
      fresh.push(c.data);
    }
    fresh.reverse();
    for (const p of fresh) this.remember(p.name as string);
    if (children.length > 0) {
      const newest = children.find((c) => typeof c.data?.name === 'string');
      if (newest) this.anchor = newest.data.name as string;
    }
    // An anchored request that comes back empty may mean the anchor was deleted: re-read the head next time.
    this.lastWasAnchoredEmpty = usedAnchor && children.length === 0;
    this.emptyPolls = fresh.length === 0 ? this.emptyPolls + 1 : 0;
    return fresh;
  }

  private remember(name: string): void {
    this.seen.set(name, true);
    while (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value as string);
  }

  /** Seconds to wait before the next poll: exponential backoff (with jitter) while nothing is new. */
  nextPollSeconds(base = 10, max = 300, rnd = Math.random): number {
    const s = Math.min(max, base * 2 ** Math.max(0, this.emptyPolls - 1));
    return this.emptyPolls === 0 ? base : s * (0.75 + rnd() / 2);
  }

  state(): PollerState {
    return { anchor: this.anchor, seen: [...this.seen.keys()], emptyPolls: this.emptyPolls };
  }
}
