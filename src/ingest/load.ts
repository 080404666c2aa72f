/**
 * Backfill from files (`reddit-stream load`): NDJSON, `.gz` or `.zst` (Reddit
 * dump archives, which need a 2 GiB zstd window), streamed with constant
 * memory, normalised in batches and appended to one table or to
 * `<root>/<subreddit>`.
 *
 * Idempotent and resumable: every commit carries a `txn` with app id
 * `load-<file fingerprint>` and version = the last line number it accounts
 * for. Lines at or below a table's version for that app id are skipped, so
 * running the same load again, or after a kill, adds nothing twice.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { Logger } from '../logger.ts';
import type { DeltaTable } from '../delta/table.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, PostBatchBuilder, type NormaliseOptions } from '../reddit/normalise.ts';
import { isValidSubreddit } from '../reddit/subreddit.ts';
import { DEAD_LETTER_TABLE, deadLetterBatch, type DeadLetter } from './dead-letters.ts';
import { BatchCommitter, type CommitPart } from './batch-committer.ts';
import type { AppendResult, PreparedAppend } from '../delta/table.ts';
import { ReddStreamError } from '../errors.ts';
import type { TableCatalog } from './tables.ts';
import { booleansAsIntegers } from './post-batch.ts';

export interface LoadOptions {
  catalog: TableCatalog;
  /** Route every post to this table name instead of by subreddit. */
  table?: string;
  batchSize?: number;
  normalise?: NormaliseOptions;
  log: Logger;
  /** Called about every `progressMs` with progress figures. */
  onProgress?: (p: LoadProgress) => void;
  progressMs?: number;
}

export interface LoadProgress {
  file: string;
  lines: number;
  posts: number;
  skipped: number;
  deadLetters: number;
  bytesRead: number;
  totalBytes: number;
  elapsedMs: number;
}

export interface LoadResult extends LoadProgress {
  commits: number;
  tables: string[];
}

/** Stable identity of a file's content: size + hash of its first and last 64 KiB. */
export async function fileFingerprint(path: string): Promise<string> {
  const fh = await fs.promises.open(path, 'r');
  try {
    const { size } = await fh.stat();
    const h = createHash('sha256').update(String(size));
    const chunk = Buffer.alloc(Math.min(65536, size));
    await fh.read(chunk, 0, chunk.length, 0);
    h.update(chunk);
    await fh.read(chunk, 0, chunk.length, Math.max(0, size - chunk.length));
    h.update(chunk);
    return h.digest('hex').slice(0, 16);
  } finally {
    await fh.close();
  }
}

export function decompressorFor(path: string): Transform | null {
  if (path.endsWith('.gz')) return zlib.createGunzip();
  if (path.endsWith('.zst') || path.endsWith('.zstd')) {
    if (typeof zlib.createZstdDecompress !== 'function') {
      throw new Error('reading .zst needs Node.js >= 22.15 (zlib zstd support)');
    }
    // Reddit dumps are compressed with --long=31: allow a 2 GiB window.
    return zlib.createZstdDecompress({ params: { [zlib.constants.ZSTD_d_windowLogMax]: 31 } });
  }
  return null;
}

/** A line longer than the limit: its first `head.length` bytes and its full length. */
export interface LongLine {
  head: Buffer;
  bytes: number;
}

/**
 * Lines of a (possibly compressed) file as Buffers, with the number of raw
 * bytes read so far. A UTF-8 byte order mark at the start is skipped. A line
 * longer than `maxLineBytes` comes as a `LongLine` (its head only): memory
 * stays bounded and time linear, however long a line is.
 */
export async function* readLines(
  path: string,
  onBytes?: (n: number) => void,
  maxLineBytes = 64 << 20,
): AsyncGenerator<Buffer | LongLine> {
  const raw = fs.createReadStream(path, { highWaterMark: 1 << 20 });
  raw.on('data', (c) => onBytes?.((c as Buffer).length));
  const dec = decompressorFor(path);
  const stream = dec ? raw.pipe(dec) : raw;
  raw.on('error', (e) => stream.destroy(e));
  // The current line's pieces so far (joined once, at its end) and their length.
  let pieces: Buffer[] = [];
  let pending = 0;
  let first = true;
  const take = (piece: Buffer) => {
    if (pending < maxLineBytes) pieces.push(Buffer.from(piece.subarray(0, maxLineBytes - pending)));
    pending += piece.length;
  };
  const line = (): Buffer | LongLine => {
    const joined = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
    const out = pending > maxLineBytes ? { head: joined, bytes: pending } : joined;
    pieces = [];
    pending = 0;
    return out;
  };
  for await (let chunk of stream as AsyncIterable<Buffer>) {
    if (first) {
      first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      if (pending === 0) {
        // Within one chunk too, a line beyond the limit is a LongLine.
        yield nl - start > maxLineBytes
          ? { head: Buffer.from(chunk.subarray(start, start + maxLineBytes)), bytes: nl - start }
          : chunk.subarray(start, nl);
      } else {
        take(chunk.subarray(start, nl));
        yield line();
      }
      start = nl + 1;
    }
    if (start < chunk.length) take(chunk.subarray(start));
  }
  if (pending > 0) yield line();
}

interface Pending {
  builder: PostBatchBuilder;
  lastLine: number;
}

export async function loadFile(path: string, opts: LoadOptions): Promise<LoadResult> {
  const { catalog, log } = opts;
  const batchSize = opts.batchSize ?? 10_000;
  const appId = `load-${await fileFingerprint(path)}`;
  const totalBytes = (await fs.promises.stat(path)).size;
  const source = `load:${nodePath.basename(path)}`;
  const started = Date.now();
  const progress: LoadProgress = {
    file: path,
    lines: 0,
    posts: 0,
    skipped: 0,
    deadLetters: 0,
    bytesRead: 0,
    totalBytes,
    elapsedMs: 0,
  };
  const tables = new Map<string, { table: DeltaTable; done: number }>();
  let commits = 0;
  let dlq: { table: DeltaTable; done: number } | null = null;
  let pending = new Map<string, Pending>();
  let dead: DeadLetter[] = [];
  let inBatch = 0;
  let lastReport = Date.now();

  const tableState = async (name: string) => {
    let t = tables.get(name);
    if (!t) {
      const table = await catalog.postTable(name);
      await table.refresh();
      const done = table.snapshot.txnVersion(appId) ?? 0;
      t = { table, done };
      tables.set(name, t);
      if (done > 0) {
        log.info('resuming: lines already loaded into this table are skipped', { table: name, upToLine: done });
      }
    }
    return t;
  };
  const dlqState = async () => {
    if (!dlq) {
      const table = await catalog.deadLetterTable();
      await table.refresh();
      dlq = { table, done: table.snapshot.txnVersion(appId) ?? 0 };
    }
    return dlq;
  };

  // One batch: dead letters first, then each table's posts, every part with the file's txn (batch-committer.ts).
  const committer = new BatchCommitter({ catalog, log });
  const flush = async () => {
    const parts: CommitPart[] = [];
    const fresh = dead.length ? await freshDeadLetters() : [];
    if (fresh.length) {
      const d = await dlqState();
      const version = Number(fresh[fresh.length - 1].offset);
      const txns = [{ appId, version }];
      parts.push({
        table: DEAD_LETTER_TABLE,
        prepared: prepared(
          await d.table.prepareAppend(deadLetterBatch(fresh), { txns, operation: 'WRITE' }),
          DEAD_LETTER_TABLE,
        ),
      });
    }
    const lastLines = new Map<string, number>();
    for (const [name, p] of pending) {
      const t = await tableState(name);
      const batch = p.builder.build();
      if (batch.numRows === 0) continue;
      const schema = catalog.appendSchema(t.table);
      booleansAsIntegers(schema ?? t.table.schema, batch);
      const prep = await t.table.prepareAppend(batch, {
        txns: [{ appId, version: p.lastLine }],
        schema,
        operation: 'WRITE',
        commitInfo: { engineInfo: 'reddit-stream load' },
      });
      parts.push({ table: name, prepared: prepared(prep, name) });
      lastLines.set(name, p.lastLine);
    }
    const outcome = parts.length ? await committer.commit(parts, appId) : null;
    if (outcome?.kind === 'conflict') throw concurrentLoad(outcome.table, outcome.reason);
    if (fresh.length) {
      (await dlqState()).done = Number(fresh[fresh.length - 1].offset);
      progress.deadLetters += fresh.length;
    }
    for (const [name, last] of lastLines) {
      tables.get(name)!.done = last;
      progress.posts += parts.find((x) => x.table === name)!.prepared.rows;
    }
    commits += parts.length;
    dead = [];
    pending = new Map();
    inBatch = 0;
  };
  const freshDeadLetters = async () => {
    const d = await dlqState();
    return dead.filter((x) => Number(x.offset) > d.done);
  };

  let line = 0;
  // Lines beyond the largest post accepted are dead letters without being parsed (their head is kept).
  const maxLine = opts.normalise?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  for await (const got of readLines(
    path,
    (n) => {
      progress.bytesRead += n;
    },
    maxLine,
  )) {
    line++;
    progress.lines = line;
    const long = Buffer.isBuffer(got) ? null : (got as LongLine);
    const buf = long ? long.head : (got as Buffer);
    if (buf.length === 0 || (buf.length === 1 && buf[0] === 13)) continue;
    let obj: unknown;
    let reason: string | null = long
      ? `line of ${long.bytes} bytes exceeds the ${maxLine} bytes a post may have (its first ${long.head.length} bytes are kept)`
      : null;
    if (reason === null) {
      try {
        obj = JSON.parse(buf.toString('utf8'));
      } catch (err) {
        reason = `invalid JSON: ${(err as Error).message}`;
      }
    }
    let name: string | null = opts.table ?? null;
    if (reason === null && name === null) {
      const sub =
        obj && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>).subreddit : undefined;
      if (typeof sub !== 'string') {
        reason = 'post has no "subreddit" to route it by (use --table to load into one table)';
      } else if (!isValidSubreddit(sub)) reason = `invalid subreddit name ${JSON.stringify(sub).slice(0, 60)}`;
      else name = sub.toLowerCase();
    }
    if (reason === null && name !== null) {
      const t = await tableState(name);
      if (line <= t.done) {
        progress.skipped++;
        continue;
      }
      let p = pending.get(name);
      if (!p) {
        p = { builder: new PostBatchBuilder(opts.normalise), lastLine: line };
        pending.set(name, p);
      }
      const r = p.builder.addParsed(obj, line);
      if (r.ok) p.lastLine = line;
      else reason = r.reason;
    }
    if (reason !== null) {
      const d = await dlqState();
      if (line <= d.done) progress.skipped++;
      else {
        dead.push({
          source,
          topic: null,
          partition: null,
          offset: BigInt(line),
          key: null,
          value: new Uint8Array(buf),
          error: reason,
          failedAt: Date.now(),
        });
      }
    }
    if (++inBatch >= batchSize) await flush();
    if (opts.onProgress && Date.now() - lastReport >= (opts.progressMs ?? 2000)) {
      lastReport = Date.now();
      opts.onProgress({ ...progress, elapsedMs: Date.now() - started });
    }
  }
  await flush();
  progress.elapsedMs = Date.now() - started;
  return { ...progress, commits, tables: [...tables.keys()].sort() };
}

/** Another load of the same file committed to `table` meanwhile. */
function concurrentLoad(table: string, reason: string): Error {
  return new ReddStreamError('COMMIT_FAILED', `concurrent load of the same file into ${table}: ${reason}`);
}

function prepared(p: PreparedAppend | Extract<AppendResult, { kind: 'conflict' }>, table: string): PreparedAppend {
  if (p.kind === 'conflict') throw concurrentLoad(table, p.reason);
  return p;
}
