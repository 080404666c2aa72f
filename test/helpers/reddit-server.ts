/**
 * A local stand-in for Reddit's API that replays real recorded posts
 * (shared/fixtures/reddit/listings) as a timeline where new posts appear
 * with every request: OAuth token endpoint, /r/<a+b>/new listings with
 * `before`, rate-limit headers counting down (a small window, to prove
 * pacing), a 429 with retry-after, an expired token (401 invalid_token), and
 * a deleted anchor post.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { SHARED } from './fixtures.ts';

export interface FakeReddit {
  url: string;
  timeline: Array<Record<string, unknown>>;
  revealed(): number;
  stats: {
    requests: number;
    tokenGrants: number;
    violations: number;
    served429: number;
    served401: number;
    anchorDeleted: string | null;
  };
  close(): Promise<void>;
}

export async function startFakeReddit(o: {
  subreddits: string[];
  postsPerRequest?: number;
  windowSeconds?: number;
  windowLimit?: number;
  deleteAnchorAt?: number;
}): Promise<FakeReddit> {
  const dir = path.join(SHARED, 'fixtures/reddit/listings');
  const posts: Array<Record<string, unknown>> = [];
  for (const f of fs.readdirSync(dir).sort()) {
    for (const c of JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).data.children) posts.push(c.data);
  }
  // A timeline of real post objects spread over the requested subreddits, oldest first.
  const timeline = posts.map((p, i) => ({
    ...p,
    subreddit: o.subreddits[i % o.subreddits.length],
    name: `t3_fake${i.toString(36)}`,
    id: `fake${i.toString(36)}`,
    created_utc: 1_700_000_000 + i,
  }));
  let revealed = 20;
  const perRequest = o.postsPerRequest ?? 7;
  const windowMs = (o.windowSeconds ?? 4) * 1000;
  const limit = o.windowLimit ?? 15;
  let windowStart = Date.now();
  let used = 0;
  const deleted = new Set<string>();
  const stats = {
    requests: 0,
    tokenGrants: 0,
    violations: 0,
    served429: 0,
    served401: 0,
    anchorDeleted: null as string | null,
  };
  const validTokens = new Set<string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/api/v1/access_token') {
        stats.tokenGrants++;
        const t = `tok${stats.tokenGrants}`;
        validTokens.add(t);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: t, token_type: 'bearer', expires_in: 86400, scope: '*' }));
        return;
      }
      stats.requests++;
      const now = Date.now();
      if (now - windowStart >= windowMs) {
        windowStart = now;
        used = 0;
      }
      used++;
      if (used > limit) stats.violations++;
      const headers = {
        'content-type': 'application/json',
        'x-ratelimit-used': String(used),
        'x-ratelimit-remaining': Math.max(0, limit - used).toFixed(1),
        'x-ratelimit-reset': String(Math.ceil((windowStart + windowMs - now) / 1000)),
      };
      const token = (req.headers.authorization ?? '').replace(/^bearer /i, '');
      if (stats.requests === 4) {
        stats.served429++;
        res.writeHead(429, { ...headers, 'retry-after': '1' });
        res.end('{}');
        return;
      }
      if (stats.requests === 6 && stats.served401 === 0) {
        stats.served401++;
        validTokens.delete(token);
      }
      if (!validTokens.has(token)) {
        res.writeHead(401, { ...headers, 'www-authenticate': 'Bearer realm="reddit", error="invalid_token"' });
        res.end('{"message": "Unauthorized", "error": 401}');
        return;
      }
      const m = /^\/r\/([^/]+)\/new$/.exec(url.pathname);
      if (!m) {
        res.writeHead(404, headers);
        res.end('{}');
        return;
      }
      const subs = new Set(m[1].split('+').map((s) => s.toLowerCase()));
      revealed = Math.min(timeline.length, revealed + perRequest);
      let visible = timeline
        .slice(0, revealed)
        .filter((p) => subs.has(String(p.subreddit).toLowerCase()) && !deleted.has(p.name as string))
        .reverse();
      const before = url.searchParams.get('before');
      if (before) {
        const i = visible.findIndex((p) => p.name === before);
        visible = i < 0 ? [] : visible.slice(0, i);
      }
      visible = visible.slice(0, Number(url.searchParams.get('limit') ?? 25));
      if (o.deleteAnchorAt !== undefined && stats.requests === o.deleteAnchorAt && before) {
        deleted.add(before);
        stats.anchorDeleted = before;
      }
      res.writeHead(200, headers);
      res.end(
        JSON.stringify({
          kind: 'Listing',
          data: { children: visible.map((d) => ({ kind: 't3', data: d })), after: null, before: null },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    timeline,
    revealed: () => revealed,
    stats,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
