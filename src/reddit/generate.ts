/**
 * Deterministic synthetic Reddit posts with realistic shapes and sizes: the
 * same fields and JSON types as real `t3` objects (see
 * shared/fixtures/reddit/INDEX.md), text lengths from empty to several KB,
 * nulls where Reddit sends them, media/preview objects, `edited` as false or
 * an epoch float, and many subreddits. The same seed gives the same posts.
 */
import { T3_TEMPLATE } from './post-template.ts';

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

const FLAIRS = ['Discussion', 'News', 'Question', 'Help', 'Meta', 'Showcase'];
const DELETED = '[deleted]';

/** What a post links to: its own comments page, a hosted video, a hosted image, or another site. */
type LinkKind = 'self' | 'video' | 'image' | 'link';

/** The choices the rest of a post follows from. */
interface PostCore {
  /** The subreddit's index in the generator's list. */
  subIndex: number;
  sub: string;
  id: string;
  created: number;
  kind: LinkKind;
  selftext: string;
  title: string;
  author: string;
  ups: number;
  /** Length of a video post's video. */
  videoSeconds: number;
  url: string;
  edited: number | false;
  flair: string | null;
}

/** Where the post is and who wrote it. */
function identityFields(c: PostCore): Record<string, unknown> {
  return {
    subreddit: c.sub,
    subreddit_name_prefixed: `r/${c.sub}`,
    subreddit_id: `t5_${(2_000_000 + c.subIndex).toString(36)}`,
    subreddit_subscribers: 100_000 + c.subIndex * 250_000,
    id: c.id,
    name: `t3_${c.id}`,
    permalink: `/r/${c.sub}/comments/${c.id}/${c.title.toLowerCase().split(' ').slice(0, 6).join('_')}/`,
    created: c.created,
    created_utc: c.created,
    author: c.author,
  };
}

/** The post's text. */
function textFields(c: PostCore): Record<string, unknown> {
  return {
    title: c.title,
    selftext: c.selftext,
    selftext_html: c.selftext ? `<!-- SC_OFF --><div class="md"><p>${c.selftext}</p>\n</div><!-- SC_ON -->` : null,
    is_self: c.kind === 'self',
    edited: c.edited,
  };
}

/** What the post links to, its thumbnail and its media. */
function linkFields(c: PostCore): Record<string, unknown> {
  const hosted = c.kind === 'video' || c.kind === 'image';
  const media = c.kind === 'video' ? videoMedia(c.id, c.videoSeconds) : null;
  return {
    url: c.url,
    url_overridden_by_dest: c.kind === 'self' ? undefined : c.url,
    domain: c.kind === 'self' ? `self.${c.sub}` : new URL(c.url).hostname,
    thumbnail: c.kind === 'self' ? 'self' : hosted ? `https://b.thumbs.redditmedia.com/${c.id}.jpg` : 'default',
    thumbnail_height: hosted ? 140 : null,
    thumbnail_width: hosted ? 140 : null,
    is_reddit_media_domain: hosted,
    post_hint: c.kind === 'image' ? 'image' : c.kind === 'video' ? 'hosted:video' : undefined,
    is_video: c.kind === 'video',
    media,
    secure_media: media,
    preview: c.kind === 'image' ? imagePreview(c.id) : undefined,
  };
}

function videoMedia(id: string, seconds: number): Record<string, unknown> {
  return {
    reddit_video: {
      bitrate_kbps: 2400,
      fallback_url: `https://v.redd.it/${id}/DASH_720.mp4?source=fallback`,
      height: 720,
      width: 1280,
      scrubber_media_url: `https://v.redd.it/${id}/DASH_96.mp4`,
      dash_url: `https://v.redd.it/${id}/DASHPlaylist.mpd`,
      duration: seconds,
      hls_url: `https://v.redd.it/${id}/HLSPlaylist.m3u8`,
      is_gif: false,
      transcoding_status: 'completed',
    },
  };
}

function imagePreview(id: string): Record<string, unknown> {
  return {
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
  };
}

function flairFields(flair: string | null): Record<string, unknown> {
  return {
    link_flair_text: flair,
    link_flair_richtext: flair ? [{ e: 'text', t: flair }] : [],
    link_flair_css_class: flair ? flair.toLowerCase() : null,
    link_flair_type: flair ? 'richtext' : 'text',
  };
}

/** The fields that are empty in every post, new objects for each. */
function emptyFields(): Record<string, unknown> {
  return {
    media_embed: {},
    user_reports: [],
    secure_media_embed: {},
    author_flair_richtext: [],
    gildings: {},
    all_awardings: [],
    awarders: [],
    treatment_tags: [],
    mod_reports: [],
  };
}

/**
 * Generates posts. A seed means one sequence of random numbers, so the same
 * seed gives the same posts only while every post draws the same numbers in
 * the same order: `next` draws the core choices, then the flags and counts,
 * each in a fixed order, and builds the rest from them without drawing.
 */
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
    const core = this.drawCore();
    const post = { ...T3_TEMPLATE };
    Object.assign(
      post,
      this.drawFlagsAndCounts(core),
      identityFields(core),
      textFields(core),
      linkFields(core),
      flairFields(core.flair),
      emptyFields(),
    );
    for (const key of Object.keys(post)) if (post[key] === undefined) delete post[key];
    return post;
  }

  /** The post's time, place, text, author, score, link, edit time and flair, drawn in this order. */
  private drawCore(): PostCore {
    const k = this.n++;
    this.t += this.rnd() * this.interval * 2;
    const subIndex = k % this.subs.length;
    const sub = this.subs[subIndex];
    const id = (this.idBase + 1_000_000 + k).toString(36);
    const created = Math.round(this.t * 10) / 10; // Reddit sends .0 floats
    const isSelf = this.chance(0.35);
    const selftext = isSelf ? (this.chance(0.15) ? '' : this.sentence(20, 600)) : '';
    const title = this.sentence(3, 30);
    const author = this.chance(0.02) ? DELETED : `user_${this.int(1, 80_000).toString(36)}`;
    const ups = Math.floor(Math.pow(this.rnd(), 4) * 25_000);
    const kind: LinkKind = isSelf ? 'self' : this.chance(0.08) ? 'video' : this.chance(0.4) ? 'image' : 'link';
    const videoSeconds = kind === 'video' ? this.int(3, 600) : 0;
    const url = this.drawUrl(kind, sub, id);
    // An edit time is an epoch float like `created`.
    const edited = this.chance(0.08) ? created + this.int(60, 86_400) : false;
    const flair = this.chance(0.4) ? this.pick(FLAIRS) : null;
    return { subIndex, sub, id, created, kind, selftext, title, author, ups, videoSeconds, url, edited, flair };
  }

  private drawUrl(kind: LinkKind, sub: string, id: string): string {
    if (kind === 'self') return `https://www.reddit.com/r/${sub}/comments/${id}/`;
    if (kind === 'video') return `https://v.redd.it/${id}`;
    if (kind === 'image') return `https://i.redd.it/${id}.jpg`;
    return `https://example.com/${this.words(3).replace(/ /g, '-')}`;
  }

  /** Flags and counts, drawn after the core in the order of the fields here. */
  private drawFlagsAndCounts(c: PostCore): Record<string, unknown> {
    return {
      author_fullname: c.author === DELETED ? undefined : `t2_${this.int(1, 1e9).toString(36)}`,
      gilded: this.chance(0.01) ? 1 : 0,
      hide_score: this.chance(0.1),
      upvote_ratio: this.chance(0.05) ? 1 : Math.round((0.5 + this.rnd() / 2) * 100) / 100,
      is_original_content: this.chance(0.03),
      author_premium: this.chance(0.1),
      content_categories: this.chance(0.05) ? ['photography'] : null,
      removed_by_category: this.chance(0.02) ? 'moderator' : null,
      no_follow: this.chance(0.6),
      over_18: this.chance(0.04),
      spoiler: this.chance(0.01),
      locked: this.chance(0.01),
      ups: c.ups,
      score: c.ups,
      num_comments: Math.floor(c.ups / this.int(3, 30)),
      num_crossposts: this.chance(0.05) ? this.int(1, 5) : 0,
    };
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
