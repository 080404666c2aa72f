/**
 * Child process of bench/kafka-consume.ts: runs `consume` in-process and
 * prints figures as JSON. Plain JavaScript on the built code (dist/, as the
 * `reddit-stream` command runs it): loading TypeScript sources would add Node's
 * type stripper (about 28 MB) to every thread and overstate memory.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveConfig } from '../dist/config/config.js';
import { consoleLogger } from '../dist/logger.js';
import { runConsume } from '../dist/service/consume.js';

const { values: a } = parseArgs({
  options: {
    bootstrap: { type: 'string' },
    subreddit: { type: 'string' },
    root: { type: 'string' },
    group: { type: 'string' },
    idle: { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '5000' },
    interval: { type: 'string', default: '1' },
    'max-batch-bytes': { type: 'string' },
    workers: { type: 'string' },
    'unknown-fields': { type: 'string' },
    encoder: { type: 'string' },
    'gc-every-bytes': { type: 'string' },
  },
});
let peakRss = 0;
let atPeak = null;
const status = () => {
  try {
    const t = fs.readFileSync('/proc/self/status', 'utf8');
    return {
      rssAnon: Number(/RssAnon:\s+(\d+)/.exec(t)[1]) * 1024,
      rssFile: Number(/RssFile:\s+(\d+)/.exec(t)[1]) * 1024,
    };
  } catch {
    return {};
  }
};
const sample = () => {
  const m = process.memoryUsage();
  if (m.rss > peakRss) {
    peakRss = m.rss;
    atPeak = { ...m, ...status() };
  }
};
const sampler = setInterval(sample, 50);
const flushMs = [];
const ages = [];
const config = resolveConfig(
  [
    [
      'bench',
      {
        subreddit: [a.subreddit],
        kafka_host: a.bootstrap,
        table_root: a.root,
        group_id: a.group,
        batch_size: a['batch-size'],
        processing_interval: a.interval,
        ...(a['max-batch-bytes'] ? { max_batch_bytes: a['max-batch-bytes'] } : {}),
        ...(a.workers ? { workers: a.workers } : {}),
        ...(a['unknown-fields'] ? { unknown_fields: a['unknown-fields'] } : {}),
        ...(a.encoder ? { encoder: a.encoder } : {}),
        ...(a['gc-every-bytes'] ? { gc_every_bytes: a['gc-every-bytes'] } : {}),
      },
    ],
  ],
  [],
);
const res = await runConsume({
  config,
  log: consoleLogger('warn'),
  print: () => {},
  untilIdleSeconds: Number(a.idle),
  threadPoolSize: Number(process.env.UV_THREADPOOL_SIZE) || undefined,
  onBatch: (s) => {
    flushMs.push(s.ms);
    for (const x of s.ages ?? []) ages.push(x);
    sample();
  },
});
clearInterval(sampler);
// The kernel's high-water mark is the exact peak (sampling can miss it).
const hwm = /VmHWM:\s+(\d+) kB/.exec(
  fs.existsSync('/proc/self/status') ? fs.readFileSync('/proc/self/status', 'utf8') : '',
);
if (hwm) peakRss = Math.max(peakRss, Number(hwm[1]) * 1024);
// CPU seconds by thread kind (main, libuv pool, V8 platform workers, ...), from /proc.
const cpuByThread = {};
try {
  for (const t of fs.readdirSync('/proc/self/task')) {
    const comm = fs
      .readFileSync(`/proc/self/task/${t}/comm`, 'utf8')
      .trim()
      .replace(/[0-9]+$/, '');
    const f = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
    cpuByThread[comm] = +((cpuByThread[comm] ?? 0) + (Number(f[11]) + Number(f[12])) / 100).toFixed(2);
  }
} catch {
  /* not Linux */
}
const pct = (xs, p) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]) : null;
};
const seconds = res.firstMessageAt && res.lastCommitAt ? (res.lastCommitAt - res.firstMessageAt) / 1000 : null;
console.log(
  JSON.stringify({
    posts: res.rows,
    commits: res.commits,
    seconds,
    postsPerSec: seconds ? Math.round(res.rows / seconds) : null,
    flushMsP50: pct(flushMs, 50),
    flushMsP99: pct(flushMs, 99),
    e2eMsP50: pct(ages, 50),
    e2eMsP99: pct(ages, 99),
    peakRssMB: Math.round(peakRss / 1e6),
    cpuSeconds: cpuByThread,
    atPeakMB: atPeak
      ? Object.fromEntries(Object.entries(atPeak).map(([k, v]) => [k, Math.round(Number(v) / 1e6)]))
      : null,
  }),
);
process.exit(0);
