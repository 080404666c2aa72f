/**
 * The Reddit post schema, as data, in one place.
 *
 * The 99 columns of the old Python pipeline (its `SCHEMA`, same names, same
 * order) so existing queries keep working, with its mistakes fixed:
 * - `created_utc`, `created`, `approved_at_utc`, `banned_at_utc` were float32,
 *   which rounds today's epoch seconds to 128-second steps: now double;
 * - counts were int32: now long (no overflow, same queries);
 * - `upvote_ratio` arrives as integer 0/1 or float: double;
 * - `likes` was int32 but Reddit sends true/false/null: boolean;
 * - `edited` is false or an epoch number: the boolean stays, `edited_at` gets
 *   the time;
 * plus derived columns:
 * - `created_at`: real UTC timestamp (microseconds) from `created_utc`;
 * - `edited_at`: timestamp of the last edit, null when not edited or unknown;
 * - `extra_fields`: with the "keep" policy, every field the schema does not
 *   know, as one JSON object string (null when there are none).
 */
import { field, struct, type PrimitiveTypeName, type StructType } from '../delta/schema.ts';

export type PostFieldType = 'string' | 'long' | 'double' | 'boolean';

/** [name, type] in the old pipeline's order. */
export const POST_FIELDS: ReadonlyArray<readonly [string, PostFieldType]> = [
  ['approved_at_utc', 'double'],
  ['subreddit', 'string'],
  ['selftext', 'string'],
  ['author_fullname', 'string'],
  ['saved', 'boolean'],
  ['mod_reason_title', 'string'],
  ['gilded', 'long'],
  ['clicked', 'boolean'],
  ['title', 'string'],
  ['subreddit_name_prefixed', 'string'],
  ['hidden', 'boolean'],
  ['pwls', 'long'],
  ['link_flair_css_class', 'string'],
  ['downs', 'long'],
  ['thumbnail_height', 'long'],
  ['top_awarded_type', 'string'],
  ['hide_score', 'boolean'],
  ['name', 'string'],
  ['quarantine', 'boolean'],
  ['link_flair_text_color', 'string'],
  ['upvote_ratio', 'double'],
  ['author_flair_background_color', 'string'],
  ['ups', 'long'],
  ['total_awards_received', 'long'],
  ['thumbnail_width', 'long'],
  ['author_flair_template_id', 'string'],
  ['is_original_content', 'boolean'],
  ['secure_media', 'string'],
  ['is_reddit_media_domain', 'boolean'],
  ['is_meta', 'boolean'],
  ['category', 'string'],
  ['link_flair_text', 'string'],
  ['can_mod_post', 'boolean'],
  ['score', 'long'],
  ['approved_by', 'string'],
  ['is_created_from_ads_ui', 'boolean'],
  ['author_premium', 'boolean'],
  ['thumbnail', 'string'],
  ['edited', 'boolean'],
  ['author_flair_css_class', 'string'],
  ['post_hint', 'string'],
  ['content_categories', 'string'],
  ['is_self', 'boolean'],
  ['subreddit_type', 'string'],
  ['created', 'double'],
  ['link_flair_type', 'string'],
  ['wls', 'long'],
  ['removed_by_category', 'string'],
  ['banned_by', 'string'],
  ['author_flair_type', 'string'],
  ['domain', 'string'],
  ['allow_live_comments', 'boolean'],
  ['selftext_html', 'string'],
  ['likes', 'boolean'],
  ['suggested_sort', 'string'],
  ['banned_at_utc', 'double'],
  ['url_overridden_by_dest', 'string'],
  ['view_count', 'long'],
  ['archived', 'boolean'],
  ['no_follow', 'boolean'],
  ['is_crosspostable', 'boolean'],
  ['pinned', 'boolean'],
  ['over_18', 'boolean'],
  ['media_only', 'boolean'],
  ['link_flair_template_id', 'string'],
  ['can_gild', 'boolean'],
  ['spoiler', 'boolean'],
  ['locked', 'boolean'],
  ['author_flair_text', 'string'],
  ['visited', 'boolean'],
  ['removed_by', 'string'],
  ['mod_note', 'string'],
  ['distinguished', 'string'],
  ['subreddit_id', 'string'],
  ['author_is_blocked', 'boolean'],
  ['mod_reason_by', 'string'],
  ['num_reports', 'long'],
  ['removal_reason', 'string'],
  ['link_flair_background_color', 'string'],
  ['id', 'string'],
  ['is_robot_indexable', 'boolean'],
  ['report_reasons', 'string'],
  ['author', 'string'],
  ['discussion_type', 'string'],
  ['num_comments', 'long'],
  ['send_replies', 'boolean'],
  ['whitelist_status', 'string'],
  ['contest_mode', 'boolean'],
  ['author_patreon_flair', 'boolean'],
  ['author_flair_text_color', 'string'],
  ['permalink', 'string'],
  ['parent_whitelist_status', 'string'],
  ['stickied', 'boolean'],
  ['url', 'string'],
  ['subreddit_subscribers', 'long'],
  ['created_utc', 'double'],
  ['num_crossposts', 'long'],
  ['media', 'string'],
  ['is_video', 'boolean'],
];

export const DERIVED_FIELDS = ['created_at', 'edited_at'] as const;
export const EXTRA_FIELDS_COLUMN = 'extra_fields';

/** What to do with fields the schema does not know. */
export type UnknownFieldPolicy = 'keep' | 'drop';

export const KNOWN_FIELDS: ReadonlySet<string> = new Set(POST_FIELDS.map(([n]) => n));

/** Delta schema of a post table. `id` is the only required column. */
export function postTableSchema(policy: UnknownFieldPolicy = 'keep'): StructType {
  const fields = POST_FIELDS.map(([name, type]) => field(name, type as PrimitiveTypeName, name !== 'id'));
  fields.push(field('created_at', 'timestamp'), field('edited_at', 'timestamp'));
  if (policy === 'keep') fields.push(field(EXTRA_FIELDS_COLUMN, 'string'));
  return struct(fields);
}
