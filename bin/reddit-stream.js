#!/usr/bin/env -S node --expose-gc --max-semi-space-size=4
// Node flags (kept to the first line; bench/kafka-consume.ts reads them from
// here to run its consumer the same way), both about memory, measured with
// `npm run bench:kafka` (docs/DESIGN.md, Memory):
//  --expose-gc: the service asks for a concurrent major GC every 32 MiB
//    consumed (service/run-loop.ts); without it fetched bytes that outlived a
//    scavenge wait for V8's external-memory trigger (~64 MB of garbage);
//  --max-semi-space-size=4 (MiB, default 16): a smaller young generation,
//    25 MB less heap, same throughput.
// Run as `node bin/reddit-stream.js`, neither applies; results are the same.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(`reddit-stream needs Node.js 22.18 or newer (this is ${process.version}). On x86_64 Linux: export PATH="$(bash scripts/node22.sh):$PATH"`);
  process.exit(1);
}
// The native encoder runs batches on libuv's thread pool, which file writes,
// DNS lookups and zlib share: a larger pool than libuv's 4 keeps a commit's
// file operations from waiting behind encoding jobs. Read once, before the
// pool starts.
process.env.UV_THREADPOOL_SIZE ??= '8';
await import('../dist/cli/main.js');
