/** Subreddit names: validation and the table / topic names derived from them. */

// Reddit's rule: 3-21 characters, letters, digits and underscores, not starting
// with an underscore. A few historic subreddits have 2 letters (e.g. "de").
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_]{1,20}$/;

export function isValidSubreddit(name: string): boolean {
  return NAME_RE.test(name);
}

/** Lower-cased name for tables and topics; throws with the rule when invalid. */
export function normaliseSubreddit(name: string): string {
  const trimmed = name.trim().replace(/^\/?r\//i, '');
  if (!isValidSubreddit(trimmed)) {
    throw new Error(
      `invalid subreddit name ${JSON.stringify(name)}: expected 2-21 letters, digits or underscores, not starting with "_"`,
    );
  }
  return trimmed.toLowerCase();
}

export function topicFor(subreddit: string): string {
  return `reddit_${normaliseSubreddit(subreddit)}`;
}
