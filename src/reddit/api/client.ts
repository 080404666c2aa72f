/**
 * Reddit API client for listings: OAuth bearer tokens (renewed ahead of
 * expiry; a 401 `invalid_token` renews and retries once), pacing by the
 * rate-limit headers, `retry-after` on 429, jittered exponential backoff on
 * 408/5xx/network errors. Production endpoints by default; the base URLs can
 * be overridden for tests only.
 */
import { ReddStreamError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { TokenSource, type RedditCredentials } from './auth.ts';
import { nextDelay, parseRateLimit, type RateLimitState } from './rate-limit.ts';

/** What a step of a request returns when the request is to be sent again. */
const RETRY = Symbol('retry');

export interface RedditClientOptions {
  credentials: RedditCredentials;
  userAgent: string;
  apiBaseUrl?: string;
  authBaseUrl?: string;
  log: Logger;
  fetch?: typeof fetch;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  maxRetries?: number;
}

export interface Listing {
  children: Array<{ kind: string; data: Record<string, unknown> }>;
  after: string | null;
  before: string | null;
}

export function defaultUserAgent(appId: string, version: string, user?: string): string {
  return `${process.platform}:${appId}:${version}${user ? ` (by /u/${user})` : ''}`;
}

export class RedditClient {
  private readonly o: RedditClientOptions;
  readonly tokens: TokenSource;
  rate: RateLimitState = { remaining: null, resetAt: null, used: null };
  private nextAt = 0;
  /** Requests sent (for tests and logs). */
  requests = 0;

  constructor(options: RedditClientOptions) {
    this.o = options;
    this.tokens = new TokenSource({
      credentials: options.credentials,
      userAgent: options.userAgent,
      authBaseUrl: options.authBaseUrl,
      fetch: options.fetch,
      clock: options.clock,
    });
  }

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }
  private sleep(ms: number): Promise<void> {
    return (this.o.sleep ?? ((x) => new Promise((r) => setTimeout(r, x))))(ms);
  }

  /** GET a listing, e.g. `/r/a+b/new` with `{ limit: '100', before: 't3_x' }`. */
  async listing(path: string, params: Record<string, string>): Promise<Listing> {
    const url = new URL(`${this.o.apiBaseUrl ?? 'https://oauth.reddit.com'}${path}`);
    for (const [k, v] of Object.entries({ ...params, raw_json: '1' })) url.searchParams.set(k, v);
    const body = await this.get(url);
    const data = (body as { data?: Listing })?.data;
    if (!data || !Array.isArray(data.children)) {
      throw new ReddStreamError('REDDIT_UNAVAILABLE', `unexpected answer from ${url.pathname}: not a listing`);
    }
    return { children: data.children, after: data.after ?? null, before: data.before ?? null };
  }

  /**
   * The JSON body of a GET, after pacing, retries and one token renewal on a
   * 401; throws when Reddit refuses or stays unavailable past `maxRetries`.
   */
  private async get(url: URL): Promise<unknown> {
    const max = this.o.maxRetries ?? 6;
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      const wait = this.nextAt - this.now();
      if (wait > 0) await this.sleep(wait);
      const token = await this.token(attempt, max);
      if (token === RETRY) continue;
      const res = await this.send(url, token, attempt, max);
      if (res === RETRY) continue;
      if (res.status === 401 && !renewed) {
        renewed = true;
        await this.renewRejectedToken(res);
        continue;
      }
      if ((await this.checkStatus(res, url, attempt, max)) === RETRY) continue;
      const body = await this.json(res, url, attempt, max);
      if (body !== RETRY) return body;
    }
  }

  /** A bearer token; the token endpoint failing for a while (5xx, 429, network) is retried like the API itself. */
  private async token(attempt: number, max: number): Promise<string | typeof RETRY> {
    try {
      return await this.tokens.get();
    } catch (err) {
      if (!(err instanceof ReddStreamError && err.retryable) || attempt >= max) throw err;
      await this.backoff(attempt, (err as Error).message);
      return RETRY;
    }
  }

  /** Send the request and note the rate-limit headers of the answer; a network error is retried. */
  private async send(url: URL, token: string, attempt: number, max: number): Promise<Response | typeof RETRY> {
    let res: Response;
    try {
      this.requests++;
      res = await (this.o.fetch ?? fetch)(url, {
        headers: { authorization: `bearer ${token}`, 'user-agent': this.o.userAgent },
      });
    } catch (err) {
      if (attempt >= max) {
        throw new ReddStreamError('REDDIT_UNAVAILABLE', `cannot reach Reddit (${url.host}): ${(err as Error).message}`);
      }
      await this.backoff(attempt, `network error: ${(err as Error).message}`);
      return RETRY;
    }
    const now = this.now();
    this.rate = parseRateLimit(res.headers, now);
    this.nextAt = now + nextDelay(this.rate, now);
    return res;
  }

  private async renewRejectedToken(res: Response): Promise<void> {
    const www = res.headers.get('www-authenticate') ?? '';
    this.o.log.info('Reddit token rejected; renewing it and retrying once', {
      reason: /invalid_token/.test(www) ? 'invalid_token' : 'unauthorized',
    });
    await this.tokens.renew();
  }

  /**
   * RETRY for an answer to retry (429: after the wait Reddit asks for;
   * 408 and 5xx: after a backoff), nothing for a success; throws for a
   * refusal, or when the retries are used up.
   */
  private async checkStatus(res: Response, url: URL, attempt: number, max: number): Promise<typeof RETRY | void> {
    if (res.status === 429) {
      const ra = Number(res.headers.get('retry-after') ?? '');
      const ms = Number.isFinite(ra) && ra > 0 ? ra * 1000 : 60_000;
      this.o.log.warn(`Reddit rate limit hit (429): waiting ${Math.round(ms / 1000)} s as asked`, {});
      this.nextAt = this.now() + ms;
      if (attempt >= max) throw new ReddStreamError('REDDIT_UNAVAILABLE', 'Reddit keeps answering 429');
      return RETRY;
    }
    if (res.status === 408 || res.status >= 500) {
      if (attempt >= max) {
        throw new ReddStreamError(
          'REDDIT_UNAVAILABLE',
          `Reddit answered HTTP ${res.status} ${max + 1} times for ${url.pathname}`,
        );
      }
      await this.backoff(attempt, `HTTP ${res.status}`);
      return RETRY;
    }
    if (!res.ok) {
      throw new ReddStreamError(
        'REDDIT_REFUSED',
        `Reddit answered HTTP ${res.status} for ${url.pathname}${res.status === 403 ? ' (private, quarantined or banned subreddit, or the app lacks access)' : ''}`,
      );
    }
  }

  /** The answer's body, or RETRY when it is not JSON (e.g. an HTML error page from a proxy or during an outage). */
  private async json(res: Response, url: URL, attempt: number, max: number): Promise<unknown> {
    try {
      return await res.json();
    } catch {
      const what = `Reddit answered ${url.pathname} with something that is not JSON (HTTP ${res.status}, ${res.headers.get('content-type') ?? 'no content type'})`;
      if (attempt >= max) throw new ReddStreamError('REDDIT_UNAVAILABLE', what);
      await this.backoff(attempt, what);
      return RETRY;
    }
  }

  private async backoff(attempt: number, why: string): Promise<void> {
    const ms = Math.min(60_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    this.o.log.warn(`Reddit request failed (${why}); retrying in ${Math.round(ms)} ms`, {});
    await this.sleep(ms);
  }
}
