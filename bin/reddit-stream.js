#!/usr/bin/env node
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `reddit-stream needs Node.js 22.18 or newer (this is ${process.version}). On x86_64 Linux: export PATH="$(bash scripts/node22.sh):$PATH"`,
  );
  process.exit(1);
}
// The native encoder runs batches on libuv's thread pool, which file writes,
// DNS lookups and zlib share: a larger pool than libuv's 4 keeps a commit's
// file operations from waiting behind encoding jobs. Read once, before the
// pool starts.
process.env.UV_THREADPOOL_SIZE ??= '8';
// Node flags that must be given at start (node-flags.json; bench/kafka-consume.ts
// runs its consumer with them too): --max-semi-space-size=4 (MiB; default 16)
// keeps V8's young generation small, about 25 MB less RSS at full speed with
// the same throughput (docs/DESIGN.md, Ingest 13). The process replaces
// itself (same pid, no parent left) unless they are already given, on the
// command line or in NODE_OPTIONS. It runs on as it is where it cannot
// (Windows, a permission model without child processes) and where starting
// twice would be visible: a debugger, or preloaded modules (agents).
const { readFileSync } = await import('node:fs');
const flags = JSON.parse(readFileSync(new URL('./node-flags.json', import.meta.url), 'utf8'));
const name = (f) => f.split('=')[0].replace(/_/g, '-');
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter(Boolean).map(name);
const missing = flags.filter((f) => !given.includes(name(f)));
const keepAsIs = given.some((f) => /^--(inspect|debug|require|import|loader|experimental-loader)\b|^-r$/.test(f));
if (missing.length > 0 && !keepAsIs && process.platform !== 'win32' && !process.env.REDDIT_STREAM_REEXECUTED) {
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...missing, ...process.execArgv, process.argv[1], ...process.argv.slice(2)],
      { ...process.env, REDDIT_STREAM_REEXECUTED: '1' },
    );
  } catch {
    // Not allowed or not available here: run with Node's defaults.
  }
}
// The marker only guards this start: processes the CLI starts do not inherit it.
delete process.env.REDDIT_STREAM_REEXECUTED;
await import('../dist/cli/main.js');
