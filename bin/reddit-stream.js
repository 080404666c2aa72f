#!/usr/bin/env node
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
