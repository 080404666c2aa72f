/**
 * Repeated Kafka -> Delta throughput runs against one preloaded broker, to
 * compare settings without the drift between separate `bench:kafka` runs:
 * preload N generated posts once, then run the consumer (as bench:kafka's
 * throughput phase, with the command's Node flags) R times per variant,
 * interleaved, each with a fresh group and table root. Per run: posts/s,
 * peak RSS, flush p50/p99, the consumer's CPU seconds by thread kind and the
 * broker's CPU seconds.
 *
 *   node bench/kafka-repeat.ts [--posts 200000] [--runs 3] [--variant=<consumer args>]...
 *   e.g. --variant=defaults --variant=--gc-every-bytes=0 (args of bench/kafka-consume-child.mjs)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { startBroker } from '../scripts/kafka-broker.ts';
import { buildDist, preloadPosts, runConsumer } from './kafka-bench.ts';

const { values: a } = parseArgs({
  options: {
    posts: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    variant: { type: 'string', multiple: true, default: ['defaults'] },
  },
});
const N = Number(a.posts);
/** CPU seconds of a process (Linux: utime + stime in clock ticks of 1/100 s). */
const cpuOf = (pid: number | undefined) => {
  if (!pid || !fs.existsSync(`/proc/${pid}/stat`)) return NaN;
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

buildDist();
const broker = await startBroker({ partitions: 6, heapMb: 1024 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-repeat-'));
try {
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: [broker.bootstrap] });
  await admin.createTopics({ topics: ['reddit_bench'], partitions: 6, replicas: 1 });
  await admin.close();
  await preloadPosts(broker.bootstrap, 'reddit_bench', N);
  let n = 0;
  for (let r = 0; r < Number(a.runs); r++) {
    for (const v of a.variant) {
      const b0 = cpuOf(broker.pid);
      const res = await runConsumer([
        '--bootstrap',
        broker.bootstrap,
        '--subreddit',
        'bench',
        '--root',
        path.join(tmp, `run${n}`),
        '--group',
        `repeat-${n++}`,
        '--idle',
        '2',
        ...(v === 'defaults' ? [] : v.split(/\s+/).filter(Boolean)),
      ]);
      const brokerCpu = +(cpuOf(broker.pid) - b0).toFixed(2);
      console.log(
        JSON.stringify({
          variant: v,
          postsPerSec: res.postsPerSec,
          peakRssMB: res.peakRssMB,
          flushMsP50: res.flushMsP50,
          flushMsP99: res.flushMsP99,
          cpuSeconds: res.cpuSeconds,
          brokerCpu,
        }),
      );
      fs.rmSync(path.join(tmp, `run${n - 1}`), { recursive: true, force: true });
    }
  }
} finally {
  await broker.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
