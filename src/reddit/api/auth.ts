/**
 * Reddit OAuth2 tokens: the password grant when a user is configured (as the
 * old producer), the application-only `client_credentials` grant otherwise.
 * Tokens are renewed before `expires_in` runs out (read from the response,
 * never assumed); a 200 answer carrying `{"error": ...}` is a failure.
 * Secrets never appear in errors or logs.
 */
import { ReddStreamError } from '../../errors.ts';

export interface RedditCredentials {
  clientId: string;
  secret: string;
  user?: string;
  password?: string;
}

export interface Token {
  accessToken: string;
  expiresAt: number;
}

export interface TokenSourceOptions {
  credentials: RedditCredentials;
  userAgent: string;
  /** Default https://www.reddit.com (tests point it at a local server). */
  authBaseUrl?: string;
  fetch?: typeof fetch;
  clock?: () => number;
  /** Renew this long before expiry (default 5 minutes, at most a tenth of the lifetime). */
  renewMarginMs?: number;
}

export class TokenSource {
  private readonly o: TokenSourceOptions;
  private token: Token | null = null;
  private inflight: Promise<Token> | null = null;
  /** Number of tokens obtained (for tests and logs). */
  grants = 0;

  constructor(options: TokenSourceOptions) {
    this.o = options;
  }

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }

  /** A valid token, renewed ahead of expiry. */
  async get(): Promise<string> {
    if (this.token && this.now() < this.token.expiresAt) return this.token.accessToken;
    return (await this.renew()).accessToken;
  }

  /** Force a new token (after a 401 invalid_token). */
  async renew(): Promise<Token> {
    if (!this.inflight) {
      this.inflight = this.request().finally(() => {
        this.inflight = null;
      });
    }
    this.token = await this.inflight;
    return this.token;
  }

  private async request(): Promise<Token> {
    const { res, json } = await this.post();
    const refusal = refusalOf(res, json);
    if (refusal) throw refusal;
    if (typeof json.access_token !== 'string' || typeof json.expires_in !== 'number') {
      throw new ReddStreamError('REDDIT_UNAVAILABLE', 'Reddit token endpoint answered without access_token/expires_in');
    }
    this.grants++;
    const lifetime = json.expires_in * 1000;
    const margin = Math.min(this.o.renewMarginMs ?? 5 * 60_000, lifetime / 10);
    return { accessToken: json.access_token, expiresAt: this.now() + lifetime - margin };
  }

  /** Ask the token endpoint for a token: its answer, and the answer's JSON body ({} when there is none). */
  private async post(): Promise<{ res: Response; json: Record<string, unknown> }> {
    const { credentials: c, userAgent } = this.o;
    const url = `${this.o.authBaseUrl ?? 'https://www.reddit.com'}/api/v1/access_token`;
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${c.clientId}:${c.secret}`).toString('base64')}`,
          'user-agent': userAgent,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: grant(c),
      });
    } catch (err) {
      throw new ReddStreamError(
        'REDDIT_UNAVAILABLE',
        `cannot reach the Reddit token endpoint ${url}: ${(err as Error).message}`,
      );
    }
    let json: Record<string, unknown> = {};
    try {
      json = (await res.json()) as Record<string, unknown>;
    } catch {
      // No JSON body: the status tells what went wrong.
    }
    return { res, json };
  }
}

/** The grant asked for: the password grant when a user is configured, application-only otherwise. */
function grant(c: RedditCredentials): URLSearchParams {
  return new URLSearchParams(
    c.user && c.password
      ? { grant_type: 'password', username: c.user, password: c.password }
      : { grant_type: 'client_credentials' },
  );
}

/** The error a token endpoint's answer means (a failing status, or a 200 carrying `error`), or null. */
function refusalOf(res: Response, json: Record<string, unknown>): ReddStreamError | null {
  if (res.status === 401) {
    return new ReddStreamError(
      'REDDIT_REFUSED',
      'Reddit rejected the app credentials (HTTP 401): check client_id and secret_id in creds.json',
    );
  }
  if (!res.ok) {
    const transient = res.status >= 500 || res.status === 429;
    return new ReddStreamError(
      transient ? 'REDDIT_UNAVAILABLE' : 'REDDIT_REFUSED',
      `Reddit token endpoint answered HTTP ${res.status}`,
    );
  }
  if (typeof json.error === 'string' || typeof json.error === 'number') {
    const e = String(json.error);
    const hint =
      e === 'invalid_grant'
        ? ': check user and password in creds.json (and that the app is a "script" app)'
        : e === 'unsupported_grant_type'
          ? ': the app type does not allow this grant'
          : '';
    return new ReddStreamError('REDDIT_REFUSED', `Reddit refused the token request: ${e}${hint}`);
  }
  return null;
}
