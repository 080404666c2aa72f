/**
 * Deterministic synthetic Reddit posts with realistic shapes and sizes: the
 * same fields and JSON types as real `t3` objects (see
 * shared/fixtures/reddit/INDEX.md), text lengths from empty to several KB,
 * nulls where Reddit sends them, media/preview objects, `edited` as false or
 * an epoch float, and many subreddits. The same seed gives the same posts.
 */

export interface GenerateOptions {
  seed?: number;
  /** Subreddits to spread posts over (default: 12 common ones). */
  subreddits?: string[];
  /** created_utc of the first post, seconds (default 2026-01-01). */
  startEpoch?: number;
  /** Mean seconds between posts (default 7). */
  intervalSeconds?: number;
}

export const DEFAULT_SUBREDDITS = [
  'technology',
  'programming',
  'dataengineering',
  'python',
  'rust',
  'typescript',
  'worldnews',
  'science',
  'askreddit',
  'pics',
  'datascience',
  'apachekafka',
];

const WORDS = (
  'the of and to in is that for it on with as was at by be this have from or one had not but what all were when we there can an ' +
  'your which their said if do will each about how up out them then she many some so these would other into has more her two like ' +
  'data stream kafka delta lake table python rust typescript node query partition commit offset schema parquet spark latency ' +
  'throughput cluster broker consumer producer exactly once checkpoint vacuum compaction reddit post comment upvote karma'
).split(' ');

/** mulberry32: small, fast, deterministic PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class PostGenerator {
  private readonly rnd: () => number;
  private readonly subs: string[];
  private t: number;
  private readonly interval: number;
  private n = 0;
  private readonly idBase: number;

  constructor(options: GenerateOptions = {}) {
    this.rnd = prng(options.seed ?? 1);
    // Ids are unique per (seed, sequence number): seed bits above 2^26 posts.
    this.idBase = (((options.seed ?? 1) >>> 0) % (1 << 20)) * (1 << 26);
    this.subs = options.subreddits ?? DEFAULT_SUBREDDITS;
    this.t = options.startEpoch ?? 1_767_225_600;
    this.interval = options.intervalSeconds ?? 7;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)];
  }
  private chance(p: number): boolean {
    return this.rnd() < p;
  }
  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  private words(n: number): string {
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.pick(WORDS);
    return out.join(' ');
  }
  private sentence(lo: number, hi: number): string {
    const s = this.words(this.int(lo, hi));
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  /** The next post object (a `t3` listing `data` object). */
  next(): Record<string, unknown> {
    const k = this.n++;
    this.t += this.rnd() * this.interval * 2;
    const sub = this.subs[k % this.subs.length];
    const id = (this.idBase + 1_000_000 + k).toString(36);
    const created = Math.round(this.t * 10) / 10; // Reddit sends .0 floats
    const isSelf = this.chance(0.35);
    const selftext = isSelf ? (this.chance(0.15) ? '' : this.sentence(20, 600)) : '';
    const title = this.sentence(3, 30);
    const author = this.chance(0.02) ? '[deleted]' : `user_${this.int(1, 80_000).toString(36)}`;
    const ups = Math.floor(Math.pow(this.rnd(), 4) * 25_000);
    const hasVideo = !isSelf && this.chance(0.08);
    const hasImage = !isSelf && !hasVideo && this.chance(0.4);
    const media = hasVideo
      ? {
          reddit_video: {
            bitrate_kbps: 2400,
            fallback_url: `https://v.redd.it/${id}/DASH_720.mp4?source=fallback`,
            height: 720,
            width: 1280,
            scrubber_media_url: `https://v.redd.it/${id}/DASH_96.mp4`,
            dash_url: `https://v.redd.it/${id}/DASHPlaylist.mpd`,
            duration: this.int(3, 600),
            hls_url: `https://v.redd.it/${id}/HLSPlaylist.m3u8`,
            is_gif: false,
            transcoding_status: 'completed',
          },
        }
      : null;
    const url = isSelf
      ? `https://www.reddit.com/r/${sub}/comments/${id}/`
      : hasVideo
        ? `https://v.redd.it/${id}`
        : hasImage
          ? `https://i.redd.it/${id}.jpg`
          : `https://example.com/${this.words(3).replace(/ /g, '-')}`;
    const edited = this.chance(0.08) ? created + this.int(60, 86_400) + 0.0 : false;
    const flair = this.chance(0.4) ? this.pick(['Discussion', 'News', 'Question', 'Help', 'Meta', 'Showcase']) : null;
    const post: Record<string, unknown> = {
      approved_at_utc: null,
      subreddit: sub,
      selftext,
      author_fullname: author === '[deleted]' ? undefined : `t2_${this.int(1, 1e9).toString(36)}`,
      saved: false,
      mod_reason_title: null,
      gilded: this.chance(0.01) ? 1 : 0,
      clicked: false,
      title,
      link_flair_richtext: flair ? [{ e: 'text', t: flair }] : [],
      subreddit_name_prefixed: `r/${sub}`,
      hidden: false,
      pwls: 6,
      link_flair_css_class: flair ? flair.toLowerCase() : null,
      downs: 0,
      thumbnail_height: hasImage || hasVideo ? 140 : null,
      top_awarded_type: null,
      hide_score: this.chance(0.1),
      name: `t3_${id}`,
      quarantine: false,
      link_flair_text_color: 'dark',
      upvote_ratio: this.chance(0.05) ? 1 : Math.round((0.5 + this.rnd() / 2) * 100) / 100,
      author_flair_background_color: null,
      subreddit_type: 'public',
      ups,
      total_awards_received: 0,
      media_embed: {},
      thumbnail_width: hasImage || hasVideo ? 140 : null,
      author_flair_template_id: null,
      is_original_content: this.chance(0.03),
      user_reports: [],
      secure_media: media,
      is_reddit_media_domain: hasImage || hasVideo,
      is_meta: false,
      category: null,
      secure_media_embed: {},
      link_flair_text: flair,
      can_mod_post: false,
      score: ups,
      approved_by: null,
      is_created_from_ads_ui: false,
      author_premium: this.chance(0.1),
      thumbnail: isSelf ? 'self' : hasImage || hasVideo ? `https://b.thumbs.redditmedia.com/${id}.jpg` : 'default',
      edited,
      author_flair_css_class: null,
      author_flair_richtext: [],
      gildings: {},
      post_hint: hasImage ? 'image' : hasVideo ? 'hosted:video' : undefined,
      content_categories: this.chance(0.05) ? ['photography'] : null,
      is_self: isSelf,
      mod_note: null,
      created,
      link_flair_type: flair ? 'richtext' : 'text',
      wls: 6,
      removed_by_category: this.chance(0.02) ? 'moderator' : null,
      banned_by: null,
      author_flair_type: 'text',
      domain: isSelf ? `self.${sub}` : new URL(url).hostname,
      allow_live_comments: false,
      selftext_html: selftext ? `<!-- SC_OFF --><div class="md"><p>${selftext}</p>\n</div><!-- SC_ON -->` : null,
      likes: null,
      suggested_sort: null,
      banned_at_utc: null,
      url_overridden_by_dest: isSelf ? undefined : url,
      view_count: null,
      archived: false,
      no_follow: this.chance(0.6),
      is_crosspostable: true,
      pinned: false,
      over_18: this.chance(0.04),
      preview: hasImage
        ? {
            images: [
              {
                source: { url: `https://preview.redd.it/${id}.jpg?auto=webp`, width: 1080, height: 1350 },
                resolutions: [108, 216, 320, 640].map((w) => ({
                  url: `https://preview.redd.it/${id}.jpg?width=${w}`,
                  width: w,
                  height: Math.round(w * 1.25),
                })),
                variants: {},
                id: `img${id}`,
              },
            ],
            enabled: true,
          }
        : undefined,
      all_awardings: [],
      awarders: [],
      media_only: false,
      can_gild: false,
      spoiler: this.chance(0.01),
      locked: this.chance(0.01),
      author_flair_text: null,
      treatment_tags: [],
      visited: false,
      removed_by: null,
      num_reports: null,
      distinguished: null,
      subreddit_id: `t5_${(2_000_000 + (k % this.subs.length)).toString(36)}`,
      author_is_blocked: false,
      mod_reason_by: null,
      removal_reason: null,
      link_flair_background_color: '',
      id,
      is_robot_indexable: true,
      report_reasons: null,
      author,
      discussion_type: null,
      num_comments: Math.floor(ups / this.int(3, 30)),
      send_replies: true,
      contest_mode: false,
      author_patreon_flair: false,
      author_flair_text_color: null,
      permalink: `/r/${sub}/comments/${id}/${title.toLowerCase().split(' ').slice(0, 6).join('_')}/`,
      stickied: false,
      url,
      subreddit_subscribers: 100_000 + (k % this.subs.length) * 250_000,
      created_utc: created,
      num_crossposts: this.chance(0.05) ? this.int(1, 5) : 0,
      media,
      is_video: hasVideo,
      whitelist_status: 'all_ads',
      parent_whitelist_status: 'all_ads',
      mod_reports: [],
    };
    for (const key of Object.keys(post)) if (post[key] === undefined) delete post[key];
    return post;
  }

  /** The next post serialised as a JSON line (no newline). */
  nextJson(): string {
    return JSON.stringify(this.next());
  }
}

/** Generated posts as UTF-8 JSON messages, until they add up to at least `minBytes` (benchmarks, tests). */
export function generatedMessages(minBytes: number, seed = 1): { messages: Uint8Array[]; bytes: number } {
  const gen = new PostGenerator({ seed });
  const enc = new TextEncoder();
  const messages: Uint8Array[] = [];
  let bytes = 0;
  while (bytes < minBytes) {
    const m = enc.encode(gen.nextJson());
    messages.push(m);
    bytes += m.byteLength;
  }
  return { messages, bytes };
}
