/**
 * bin/reddit-stream.js starts the CLI with the Node flags of node-flags.json,
 * re-executing itself (same pid) when they are not given. Run against a copy
 * of the bin whose CLI is a probe printing what the process started with.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FLAGS = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'bin/node-flags.json'), 'utf8')) as string[];

function probeBin(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bin-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.mkdirSync(path.join(dir, 'dist', 'cli'), { recursive: true });
  for (const f of ['reddit-stream.js', 'node-flags.json']) {
    fs.copyFileSync(path.join(REPO_ROOT, 'bin', f), path.join(dir, 'bin', f));
  }
  fs.writeFileSync(
    path.join(dir, 'dist', 'cli', 'main.js'),
    `
    process.stdout.write(JSON.stringify({ pid: process.pid, execArgv: process.execArgv, args: process.argv.slice(2), marker: process.env.REDDIT_STREAM_REEXECUTED ?? null }));
    process.exitCode = Number(process.argv[2] === 'exit' ? process.argv[3] : 0);
  `,
  );
  return path.join(dir, 'bin', 'reddit-stream.js');
}

function run(bin: string, args: string[], opts: { nodeArgs?: string[]; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', ...opts.env },
  });
  return {
    status: r.status,
    out: r.stdout ? (JSON.parse(r.stdout) as { execArgv: string[]; args: string[]; marker: string | null }) : null,
    stderr: r.stderr,
  };
}

describe('bin/reddit-stream.js', () => {
  const bin = probeBin();

  it('restarts itself with the flags of node-flags.json, arguments and exit code unchanged', () => {
    assert.ok(FLAGS.length > 0);
    const r = run(bin, ['exit', '3', 'a b', '', '$HOME', '--', '-x']);
    assert.equal(r.status, 3, r.stderr);
    for (const f of FLAGS) assert.ok(r.out!.execArgv.includes(f), `${f} in ${r.out!.execArgv}`);
    assert.deepEqual(r.out!.args, ['exit', '3', 'a b', '', '$HOME', '--', '-x']);
    // The restart's marker is not left for processes the CLI starts.
    assert.equal(r.out!.marker, null);
  });

  it('leaves a flag the user gave alone, in either spelling, on the command line or in NODE_OPTIONS', () => {
    const name = FLAGS[0].split('=')[0];
    const underscored = `${name.replace(/-/g, '_').replace(/^__/, '--')}=8`;
    const inOptions = run(bin, [], { env: { NODE_OPTIONS: underscored } });
    assert.equal(inOptions.status, 0, inOptions.stderr);
    assert.deepEqual(inOptions.out!.execArgv, []);
    const onCommandLine = run(bin, [], { nodeArgs: [`${name}=8`] });
    assert.deepEqual(onCommandLine.out!.execArgv, [`${name}=8`]);
  });

  it('does not start twice with preloaded modules (an agent would start twice)', () => {
    const preload = path.join(path.dirname(bin), 'preload.cjs');
    fs.writeFileSync(preload, '');
    const r = run(bin, [], { nodeArgs: ['--require', preload] });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.out!.execArgv, ['--require', preload]);
  });
});
