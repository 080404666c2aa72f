/**
 * `reddit-stream produce` against a local replay of Reddit's API and a real
 * Kafka broker: every post exactly once, in order per subreddit, right topic
 * and key, request rate within the limit, and a restart (graceful and kill -9)
 * in the middle loses and repeats nothing.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.ts';
import { readTopic, startBroker, type Broker } from '../helpers/kafka.ts';
import { startFakeReddit, type FakeReddit } from '../helpers/reddit-server.ts';
import { runProducer } from '../../src/reddit/producer.ts';
import { RedditClient } from '../../src/reddit/api/client.ts';
import { silentLogger } from '../../src/logger.ts';

let broker: Broker;
let reddit: FakeReddit;

// The fake Reddit server runs in this process: the child must be spawned asynchronously.
function produce(
  cwd: string,
  args: string[],
  server = reddit,
  subs = 'alpha,beta',
): {
  child: ChildProcess;
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
} {
  return runChild(
    process.execPath,
    [
      path.join(REPO_ROOT, 'src/cli/main.ts'),
      'produce',
      '--kafka-host',
      broker.bootstrap,
      '--subreddits',
      subs,
      '--state',
      path.join(cwd, 'state.json'),
      '--poll-seconds',
      '0',
      '--reddit-api-url',
      server.url,
      '--reddit-auth-url',
      server.url,
      ...args,
    ],
    {
      cwd,
      env: {
        ...process.env,
        REDDIT_CLIENT_ID: 'cid',
        REDDIT_SECRET_ID: 'secret',
        REDDIT_USER: 'bot',
        REDDIT_PASSWORD: 'pw',
      },
    },
  );
}

function runChild(cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }) {
  const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '',
    stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => child.on('exit', (status, signal) => resolve({ status, signal, stdout, stderr })),
  );
  return { child, done };
}

describe('produce (replayed Reddit API + real Kafka)', { timeout: 300_000 }, () => {
  before(async () => {
    broker = await startBroker({ partitions: 1 });
    reddit = await startFakeReddit({ subreddits: ['alpha', 'beta'], postsPerRequest: 9, deleteAnchorAt: 9 });
  });
  after(async () => {
    await reddit?.close();
    await broker?.stop();
  });

  it('publishes every post once, in order, to the right topic with its name as key, across restarts', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-produce-'));
    const first = await produce(cwd, ['--max-cycles', '8']).done;
    assert.equal(first.status, 0, first.stderr);
    assert.match(
      first.stdout,
      /^cycle 1: \d+ new post\(s\) \(r\/alpha \d+, r\/beta \d+\); rate limit remaining [\d.]+; next poll in \d+ s$/m,
    );
    assert.match(first.stderr, /rate limit hit \(429\): waiting 1 s/);
    assert.match(first.stderr, /token rejected; renewing it and retrying once/);
    const second = await produce(cwd, ['--max-cycles', '60']).done;
    assert.equal(second.status, 0, second.stderr);
    assert.ok(reddit.stats.anchorDeleted, 'the anchor post was deleted during the run');
    const revealed = reddit.timeline.slice(0, reddit.revealed()).filter((p) => p.name !== reddit.stats.anchorDeleted);
    for (const sub of ['alpha', 'beta']) {
      const msgs = await readTopic(broker.bootstrap, `reddit_${sub}`);
      const want = revealed.filter((p) => p.subreddit === sub).map((p) => p.name as string);
      const got = msgs.map((m) => m.key);
      assert.equal(new Set(got).size, got.length, `${sub}: no duplicates`);
      // the deleted anchor had been sent before it was deleted
      const gotWithoutDeleted = got.filter((k) => k !== reddit.stats.anchorDeleted);
      assert.deepEqual(gotWithoutDeleted, want, `${sub}: exactly the revealed posts, oldest first`);
      for (const m of msgs) assert.equal(JSON.parse(m.value).name, m.key);
    }
    assert.equal(reddit.stats.violations, 0, 'never exceeded the rate limit window');
  });

  it('a crash between sending and recording is repaired without repeats (pending posts checked against Kafka)', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-produce-'));
    const statePath = path.join(cwd, 'state.json');
    const sent: string[] = [];
    const sink = {
      send: async (posts: Array<{ topic: string; key: string; value: string }>) => {
        for (const p of posts) sent.push(p.key);
      },
      recentKeys: async () => new Set(sent.slice(0, 3)),
    };
    const client = new RedditClient({
      credentials: { clientId: 'c', secret: 's' },
      userAgent: 'ua',
      apiBaseUrl: reddit.url,
      authBaseUrl: reddit.url,
      log: silentLogger,
    });
    await runProducer({
      subreddits: ['alpha', 'beta', 'bad name'],
      postType: 'new',
      client,
      sink,
      statePath,
      log: silentLogger,
      print: () => {},
      maxCycles: 1,
      sleep: async () => {},
    });
    // Simulate a crash after sending 3 of them: the state still lists them as pending.
    const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
    const inFlight = sent.slice(0, 5);
    state.pending = inFlight.map((k) => ({ topic: 'reddit_alpha', key: k, value: '{}' }));
    fs.writeFileSync(statePath, JSON.stringify(state));
    sent.length = 0;
    sent.push(...inFlight.slice(0, 3));
    await runProducer({
      subreddits: ['alpha', 'beta'],
      postType: 'new',
      client,
      sink,
      statePath,
      log: silentLogger,
      print: () => {},
      maxCycles: 1,
      sleep: async () => {},
    });
    assert.deepEqual(sent.slice(0, 5), inFlight, 'only the 2 missing pending posts were sent again');
    assert.equal(new Set(sent).size, sent.length);
    assert.deepEqual(JSON.parse(fs.readFileSync(statePath, 'utf8')).pending, []);
  });

  it('posts left pending for a topic that does not exist yet (Kafka was down at the first send) are published at the next start', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-produce-newtopic-'));
    const server = await startFakeReddit({ subreddits: ['zeta'], postsPerRequest: 3, windowLimit: 1000 });
    try {
      // The state a run leaves when Kafka never answered: posts pending for reddit_zeta, never created.
      const pending = ['t3_pend1', 't3_pend2'].map((name) => ({
        topic: 'reddit_zeta',
        key: name,
        value: JSON.stringify({ name, subreddit: 'zeta' }),
      }));
      fs.writeFileSync(
        path.join(cwd, 'state.json'),
        JSON.stringify({ seen: [], anchor: null, emptyPolls: 0, pending }),
      );
      const r = await produce(cwd, ['--max-cycles', '1'], server, 'zeta').done;
      assert.equal(r.status, 0, r.stderr);
      const msgs = await readTopic(broker.bootstrap, 'reddit_zeta');
      assert.deepEqual(
        msgs.slice(0, 2).map((m) => m.key),
        ['t3_pend1', 't3_pend2'],
      );
    } finally {
      await server.close();
    }
  });

  it('kill -9 of the real produce process at random moments, restarted each time: every post exactly once, in order', async () => {
    const server = await startFakeReddit({ subreddits: ['gamma', 'delta'], postsPerRequest: 6, windowLimit: 1000 });
    try {
      const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-produce-kill-'));
      const delays: number[] = [];
      for (let k = 0; k < 5; k++) {
        const run = produce(cwd, ['--max-cycles', '1000'], server, 'gamma,delta');
        const delay = 800 + Math.floor(Math.random() * 1500);
        delays.push(delay);
        await new Promise((r) => setTimeout(r, delay));
        run.child.kill('SIGKILL');
        const r = await run.done;
        assert.equal(r.signal, 'SIGKILL', `run ${k} ended before it was killed: ${r.stderr}`);
      }
      const last = await produce(cwd, ['--max-cycles', '15'], server, 'gamma,delta').done;
      assert.equal(last.status, 0, last.stderr);
      const revealed = server.timeline.slice(0, server.revealed());
      for (const sub of ['gamma', 'delta']) {
        const got = (await readTopic(broker.bootstrap, `reddit_${sub}`)).map((m) => m.key);
        const want = revealed.filter((p) => p.subreddit === sub).map((p) => p.name as string);
        assert.equal(new Set(got).size, got.length, `${sub}: no duplicates (kills after ${delays.join(', ')} ms)`);
        assert.deepEqual(
          got,
          want,
          `${sub}: exactly the revealed posts, oldest first (kills after ${delays.join(', ')} ms)`,
        );
      }
    } finally {
      await server.close();
    }
  });

  it('the broker stops mid-run: produce says why, keeps retrying, resumes by itself; every post exactly once, in order', async () => {
    const server = await startFakeReddit({ subreddits: ['epsilon'], postsPerRequest: 5, windowLimit: 1000 });
    try {
      const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-produce-outage-'));
      const run = produce(cwd, ['--max-cycles', '30'], server, 'epsilon');
      let out = '';
      run.child.stdout!.on('data', (d) => (out += d));
      const waitFor = async (what: string, ok: () => boolean) => {
        const deadline = Date.now() + 90_000;
        while (!ok()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      let err = '';
      run.child.stderr!.on('data', (d) => (err += d));
      await waitFor('a few cycles', () => /^cycle 3:/m.test(out));
      await broker.stop();
      await waitFor('the retry warning', () => /cannot reach Kafka; retrying in \d+ ms/.test(err));
      await broker.start();
      const r = await run.done;
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /Kafka is answering again; pending posts published/);
      const got = (await readTopic(broker.bootstrap, 'reddit_epsilon')).map((m) => m.key);
      const want = server.timeline
        .slice(0, server.revealed())
        .filter((p) => p.subreddit === 'epsilon')
        .map((p) => p.name as string);
      assert.equal(new Set(got).size, got.length, 'no duplicates');
      assert.deepEqual(got, want, 'exactly the revealed posts, oldest first');
    } finally {
      await server.close();
    }
  });
});
