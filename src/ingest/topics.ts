/**
 * Names the ingest derives from a topic: its table (`reddit_<sub>` ->
 * `<sub>`, lower-cased) and the `txn` app id that holds a consumer group's
 * position in a partition (`<group>-<topic>-<partition>`).
 */
import { isValidSubreddit } from '../reddit/subreddit.ts';

/** Table name for a topic: `reddit_<sub>` -> `<sub>` (lower-cased). */
export function tableForTopic(topic: string): string {
  const sub = topic.startsWith('reddit_') ? topic.slice('reddit_'.length) : topic;
  if (!isValidSubreddit(sub)) throw new Error(`topic ${JSON.stringify(topic)} does not name a valid subreddit table`);
  return sub.toLowerCase();
}

export function txnAppId(group: string, topic: string, partition: number): string {
  return `${group}-${topic}-${partition}`;
}

/**
 * The group, topic and partition of a consumer's `txn` app id, or null for
 * other app ids (loads, other tools). Topics are `reddit_<sub>` and
 * subreddit names have no '-', so the split is unambiguous.
 */
export function parseTxnAppId(appId: string): { group: string; topic: string; partition: number } | null {
  const m = /^(.+)-(reddit_[A-Za-z0-9_]+)-(\d+)$/.exec(appId);
  return m ? { group: m[1], topic: m[2], partition: Number(m[3]) } : null;
}
