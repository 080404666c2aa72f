/**
 * The producer: poll Reddit listings for the configured subreddits (one
 * request covers them all: /r/a+b+c/<post_type>), publish every new post's
 * `data` object, whole, to `reddit_<subreddit>` keyed by its fullname, oldest
 * first, and persist the tracker state.
 *
 * No loss, no repeat, across restarts: before sending, the posts about to go
 * out are saved as `pending` together with the new tracker state (atomic
 * file replace); after Kafka acknowledges them (acks=all, idempotent), the
 * pending list is cleared. On start, pending posts are checked against the
 * tail of their topics and only the ones Kafka does not have are sent.
 *
 * Kafka unreachable (or refusing): the send is retried with backoff, each
 * retry first checking the topics' tails like a restart does (a failed send
 * may have landed in part), so an outage costs time, never a post or a
 * repeat; the posts stay pending in the state file meanwhile.
 */
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import type { Logger } from '../logger.ts';
import type { Listing, RedditClient } from './api/client.ts';
import { describeError, ReddStreamError } from '../errors.ts';
import { NewPostTracker, type PollerState } from './api/poller.ts';
import { isValidSubreddit } from './subreddit.ts';
import { writeFileDurable } from '../storage/durable.ts';
import { sleep } from '../time.ts';

export interface PostSink {
  send(posts: Array<{ topic: string; key: string; value: string }>): Promise<void>;
  recentKeys(topics: string[]): Promise<Set<string>>;
  /** What a failure of `send` or `recentKeys` means, for the person running the producer. */
  describeFailure?(err: unknown): string;
}

export interface ProducerState extends PollerState {
  pending: Array<{ topic: string; key: string; value: string }>;
}

export interface ProducerOptions {
  subreddits: string[];
  postType: string;
  client: RedditClient;
  sink: PostSink;
  statePath: string;
  log: Logger;
  print: (line: string) => void;
  signal?: AbortSignal;
  /** Stop after this many polls (tests, scripts). */
  maxCycles?: number;
  /** Base and maximum seconds between polls (idle backoff in between). */
  pollSeconds?: number;
  maxPollSeconds?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Pages read back when re-reading the head (default 10: 1,000 posts). */
  maxCatchUpPages?: number;
  /** First and longest wait between attempts to publish while Kafka fails (default 1 s and 60 s). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

async function readState(path: string): Promise<ProducerState | null> {
  try {
    return checkedState(JSON.parse(await fs.readFile(path, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(
      `cannot read producer state ${path}: ${(err as Error).message} (delete it to start over; posts may then be sent again)`,
    );
  }
}

/** A state file's content, checked (fields an older version did not write get their defaults). */
function checkedState(raw: unknown): ProducerState {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a JSON object');
  const o = raw as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (o.seen !== undefined && !strings(o.seen)) throw new Error('"seen" is not a list of post names');
  if (o.anchor !== undefined && o.anchor !== null && typeof o.anchor !== 'string') {
    throw new Error('"anchor" is not a post name');
  }
  if (o.emptyPolls !== undefined && !(Number.isInteger(o.emptyPolls) && (o.emptyPolls as number) >= 0)) {
    throw new Error('"emptyPolls" is not a count');
  }
  const pending = o.pending ?? [];
  if (
    !Array.isArray(pending) ||
    !pending.every(
      (p) =>
        p &&
        typeof p === 'object' &&
        typeof p.topic === 'string' &&
        typeof p.key === 'string' &&
        typeof p.value === 'string',
    )
  ) {
    throw new Error('"pending" is not a list of {topic, key, value}');
  }
  return {
    seen: (o.seen as string[] | undefined) ?? [],
    anchor: (o.anchor as string | null | undefined) ?? null,
    emptyPolls: (o.emptyPolls as number | undefined) ?? 0,
    pending: pending as ProducerState['pending'],
  };
}

async function writeState(path: string, state: ProducerState): Promise<void> {
  await fs.mkdir(nodePath.dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFileDurable(tmp, JSON.stringify(state));
  await fs.rename(tmp, path);
}

/**
 * Send `posts` until Kafka has every one of them exactly once; returns how
 * many were sent, or null when a stop (signal) came while retrying (the posts
 * stay pending in the state file and the next start sends exactly the missing
 * ones). Before a retry, and before the first attempt when `checkFirst` (posts
 * pending from an earlier run), only the posts missing from the topics' tails
 * are sent.
 */
async function sendAll(
  o: ProducerOptions,
  posts: ProducerState['pending'],
  pause: NonNullable<ProducerOptions['sleep']>,
  checkFirst = false,
): Promise<number | null> {
  let todo = posts;
  /** Posts Kafka had before this call (sent by an earlier run). */
  let before: number | null = checkFirst ? null : 0;
  let delay = o.retryDelayMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      if (attempt > 1 || checkFirst) {
        const have = await o.sink.recentKeys([...new Set(todo.map((p) => p.topic))]);
        todo = todo.filter((p) => !have.has(p.key));
        before ??= posts.length - todo.length;
      }
      await o.sink.send(todo);
      if (attempt > 1) {
        o.log.info('Kafka is answering again; pending posts published', { posts: todo.length, attempts: attempt });
      }
      return posts.length - (before ?? 0);
    } catch (err) {
      if (o.signal?.aborted) return null;
      const why = o.sink.describeFailure?.(err) ?? describeError(err);
      o.log.warn(
        `${why}; retrying in ${delay} ms (the posts stay pending in the state file: nothing is lost or sent twice)`,
        { posts: todo.length, error: describeError(err).slice(0, 300) },
      );
      await pause(delay, o.signal);
      if (o.signal?.aborted) return null;
      delay = Math.min(o.maxRetryDelayMs ?? 60_000, delay * 2);
    }
  }
}

function stopped(o: ProducerOptions, cycles: number, sent: number): { cycles: number; sent: number } {
  o.log.warn(
    'stopped while Kafka was failing: the unsent posts stay pending in the state file; the next start sends exactly the ones Kafka does not have',
    { state: o.statePath },
  );
  return { cycles, sent };
}

/** The valid names among `o.subreddits` (a warning for each other one); throws when there is none. */
function validSubreddits(o: ProducerOptions): string[] {
  const valid = o.subreddits.filter((s) => isValidSubreddit(s));
  for (const s of o.subreddits) {
    if (!isValidSubreddit(s)) {
      o.log.warn('ignoring an invalid subreddit name (Reddit would drop it silently)', { subreddit: s });
    }
  }
  if (valid.length === 0) throw new Error('no valid subreddit to poll');
  return valid;
}

/**
 * Publish `posts` with the state file saying they are in flight until Kafka
 * has them all: returns how many were sent, or null on a stop while retrying
 * (they stay pending). `resuming`: they were pending from an earlier run.
 */
async function publish(
  o: ProducerOptions,
  tracker: NewPostTracker,
  posts: ProducerState['pending'],
  pause: NonNullable<ProducerOptions['sleep']>,
  resuming = false,
): Promise<number | null> {
  if (!resuming) await writeState(o.statePath, { ...tracker.state(), pending: posts });
  const n = await sendAll(o, posts, pause, resuming);
  if (n === null) return null;
  await writeState(o.statePath, { ...tracker.state(), pending: [] });
  return n;
}

/**
 * The newest posts of the listing, from where the tracker stands. Re-reading
 * the head (no anchor, e.g. after the anchor post was deleted) pages back
 * until a post already seen, so nothing newer is skipped.
 */
async function readListing(o: ProducerOptions, tracker: NewPostTracker, path: string): Promise<Listing['children']> {
  const params = tracker.params();
  let listing = await o.client.listing(path, params);
  let children = listing.children;
  for (
    let pages = 1;
    params.before === undefined && tracker.seenCount > 0 && listing.after && pages < (o.maxCatchUpPages ?? 10);
    pages++
  ) {
    if (children.some((c) => typeof c.data?.name === 'string' && tracker.hasSeen(c.data.name))) break;
    listing = await o.client.listing(path, { limit: '100', after: listing.after });
    children = children.concat(listing.children);
  }
  return children;
}

/**
 * After a failed poll: wait and return the wait (ms), doubling from 30 s to
 * 5 min over consecutive failures (`outage`: the previous wait, 0 after a
 * success). Reddit down or failing for longer than the client's own retries
 * is waited out (the next poll catches up from the last post seen); errors a
 * person must fix, and any failure of a bounded run's last poll, are thrown.
 */
async function waitOutOutage(
  o: ProducerOptions,
  err: unknown,
  cycles: number,
  outage: number,
  pause: NonNullable<ProducerOptions['sleep']>,
): Promise<number> {
  if (!(err instanceof ReddStreamError && err.retryable) || allCyclesDone(o, cycles)) throw err;
  const wait = Math.min(300_000, outage ? outage * 2 : 30_000);
  o.log.warn(
    `Reddit is not answering; polling again in ${Math.round(wait / 1000)} s (nothing is lost: the next poll catches up from the last post seen)`,
    { error: err.message },
  );
  await pause(wait, o.signal);
  return wait;
}

/** The messages for new posts: one per post of a requested subreddit, to its topic, keyed by its fullname. */
function messagesFor(
  o: ProducerOptions,
  fresh: Array<Record<string, unknown>>,
  subs: ReadonlySet<string>,
): ProducerState['pending'] {
  const out = [];
  for (const p of fresh) {
    const sub = typeof p.subreddit === 'string' ? p.subreddit.toLowerCase() : null;
    if (!sub || !subs.has(sub)) {
      o.log.warn('post from an unrequested subreddit skipped', { name: p.name, subreddit: p.subreddit });
      continue;
    }
    out.push({ topic: `reddit_${sub}`, key: String(p.name), value: JSON.stringify(p) });
  }
  return out;
}

/** The console line for one poll. */
function cycleSummary(cycle: number, out: ProducerState['pending'], remaining: number | null, wait: number): string {
  const bySub = new Map<string, number>();
  for (const p of out) {
    bySub.set(p.topic.slice('reddit_'.length), (bySub.get(p.topic.slice('reddit_'.length)) ?? 0) + 1);
  }
  const subs = out.length ? ` (${[...bySub].map(([s, n]) => `r/${s} ${n}`).join(', ')})` : '';
  return `cycle ${cycle}: ${out.length} new post(s)${subs}; rate limit remaining ${remaining ?? '?'}; next poll in ${wait.toFixed(0)} s`;
}

/** Whether a bounded run (`maxCycles`) has made its last poll after `cycles` polls. */
function allCyclesDone(o: ProducerOptions, cycles: number): boolean {
  return o.maxCycles !== undefined && cycles >= o.maxCycles;
}

export async function runProducer(o: ProducerOptions): Promise<{ cycles: number; sent: number }> {
  const valid = validSubreddits(o);
  const subs = new Set(valid.map((s) => s.toLowerCase()));
  const listingPath = `/r/${valid.join('+')}/${o.postType}`;
  const pause = o.sleep ?? sleep;
  const saved = await readState(o.statePath);
  const tracker = new NewPostTracker(10_000, saved ?? undefined);
  let sent = 0;

  // Finish what a previous run had in flight, without repeating anything.
  if (saved?.pending.length) {
    o.log.info('resuming: posts in flight at the last stop; sending the ones Kafka does not have', {
      pending: saved.pending.length,
    });
    const n = await publish(o, tracker, saved.pending, pause, true);
    if (n === null) return stopped(o, 0, sent);
    sent += n;
  }

  let cycles = 0;
  let outage = 0;
  while (!o.signal?.aborted && !allCyclesDone(o, cycles)) {
    cycles++;
    let children: Listing['children'];
    try {
      children = await readListing(o, tracker, listingPath);
      outage = 0;
    } catch (err) {
      outage = await waitOutOutage(o, err, cycles, outage, pause);
      continue;
    }
    const out = messagesFor(o, tracker.accept(children), subs);
    const n = await publish(o, tracker, out, pause);
    if (n === null) return stopped(o, cycles, sent);
    sent += n;
    const wait = tracker.nextPollSeconds(o.pollSeconds ?? 10, o.maxPollSeconds ?? 300);
    o.print(cycleSummary(cycles, out, o.client.rate.remaining, wait));
    if (allCyclesDone(o, cycles)) break;
    await pause(wait * 1000, o.signal);
  }
  return { cycles, sent };
}
