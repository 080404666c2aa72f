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
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { Logger } from '../logger.ts';
import type { AppendResult, DeltaTable, PreparedAppend } from '../delta/table.ts';
import { ReddStreamError } from '../errors.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, PostBatchBuilder, type NormaliseOptions } from '../reddit/normalise.ts';
import { isValidSubreddit } from '../reddit/subreddit.ts';
import { BatchCommitter, type CommitPart } from './batch-committer.ts';
import { DEAD_LETTER_TABLE, deadLetterBatch, type DeadLetter } from './dead-letters.ts';
import { fileFingerprint, readLines, type LongLine } from './line-reader.ts';
import { fitToTable } from './post-batch.ts';
import type { TableCatalog } from './tables.ts';
import type { Maintenance } from './maintenance.ts';

export { decompressorFor, fileFingerprint, readLines, type LongLine } from './line-reader.ts';

export interface LoadOptions {
  catalog: TableCatalog;
  /** Route every post to this table name instead of by subreddit. */
  table?: string;
  batchSize?: number;
  normalise?: NormaliseOptions;
  log: Logger;
  /** Compacts tables in the background after commits. */
  maintenance?: Maintenance;
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

interface Pending {
  builder: PostBatchBuilder;
  lastLine: number;
}

/** What became of a line: batched, already in its table (an earlier run), or refused (a dead letter). */
type Taken = { kind: 'batched' } | { kind: 'loaded' } | { kind: 'refused'; reason: string };

/** A table this load writes to, and the last line of this file it holds. */
interface Target {
  table: DeltaTable;
  done: number;
}

export async function loadFile(path: string, opts: LoadOptions): Promise<LoadResult> {
  const appId = `load-${await fileFingerprint(path)}`;
  const totalBytes = (await fs.promises.stat(path)).size;
  return new FileLoad(path, appId, totalBytes, opts).run();
}

/** One file's load: lines -> routed posts or dead letters -> batches committed with the file's txn. */
class FileLoad {
  private readonly progress: LoadProgress;
  private readonly started = Date.now();
  private readonly source: string;
  private readonly committer: BatchCommitter;
  private readonly tables = new Map<string, Target>();
  private dlq: Target | null = null;
  private pending = new Map<string, Pending>();
  private dead: DeadLetter[] = [];
  private inBatch = 0;
  private commits = 0;
  private lastReport = Date.now();
  private readonly path: string;
  private readonly appId: string;
  private readonly opts: LoadOptions;

  constructor(path: string, appId: string, totalBytes: number, opts: LoadOptions) {
    this.path = path;
    this.appId = appId;
    this.opts = opts;
    this.source = `load:${nodePath.basename(path)}`;
    this.committer = new BatchCommitter({ catalog: opts.catalog, log: opts.log });
    const zero = { lines: 0, posts: 0, skipped: 0, deadLetters: 0, bytesRead: 0, elapsedMs: 0 };
    this.progress = { file: path, totalBytes, ...zero };
  }

  async run(): Promise<LoadResult> {
    // Lines beyond the largest post accepted are dead letters without being parsed (their head is kept).
    const maxLine = this.opts.normalise?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const counted = (n: number) => {
      this.progress.bytesRead += n;
    };
    let line = 0;
    for await (const got of readLines(this.path, counted, maxLine)) {
      this.progress.lines = ++line;
      const long = Buffer.isBuffer(got) ? null : (got as LongLine);
      const buf = long ? long.head : (got as Buffer);
      if (buf.length === 0 || (buf.length === 1 && buf[0] === 13)) continue;
      const tooLong = long
        ? `line of ${long.bytes} bytes exceeds the ${maxLine} bytes a post may have (its first ${long.head.length} bytes are kept)`
        : null;
      const taken = tooLong === null ? await this.take(line, buf) : { kind: 'refused' as const, reason: tooLong };
      if (taken.kind === 'loaded') {
        this.progress.skipped++;
        continue;
      }
      if (taken.kind === 'refused') await this.deadLetter(line, buf, taken.reason);
      if (++this.inBatch >= (this.opts.batchSize ?? 10_000)) await this.flush();
      this.report();
    }
    await this.flush();
    this.progress.elapsedMs = Date.now() - this.started;
    return { ...this.progress, commits: this.commits, tables: [...this.tables.keys()].sort() };
  }

  /** Add the post on `line` to its table's batch, unless the table holds it already, or say why it cannot be. */
  private async take(line: number, buf: Buffer): Promise<Taken> {
    let obj: unknown;
    try {
      obj = JSON.parse(buf.toString('utf8'));
    } catch (err) {
      return { kind: 'refused', reason: `invalid JSON: ${(err as Error).message}` };
    }
    const routed = this.route(obj);
    if (routed.kind === 'refused') return routed;
    const t = await this.target(routed.table);
    if (line <= t.done) return { kind: 'loaded' };
    let p = this.pending.get(routed.table);
    if (!p) {
      this.pending.set(routed.table, (p = { builder: new PostBatchBuilder(this.opts.normalise), lastLine: line }));
    }
    const r = p.builder.addParsed(obj, line);
    if (!r.ok) return { kind: 'refused', reason: r.reason };
    p.lastLine = line;
    return { kind: 'batched' };
  }

  /** The table a post goes to: `--table`, or its subreddit. */
  private route(obj: unknown): { kind: 'routed'; table: string } | { kind: 'refused'; reason: string } {
    if (this.opts.table) return { kind: 'routed', table: this.opts.table };
    const sub =
      obj && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>).subreddit : undefined;
    if (typeof sub !== 'string') {
      return { kind: 'refused', reason: 'post has no "subreddit" to route it by (use --table to load into one table)' };
    }
    if (!isValidSubreddit(sub)) {
      return { kind: 'refused', reason: `invalid subreddit name ${JSON.stringify(sub).slice(0, 60)}` };
    }
    return { kind: 'routed', table: sub.toLowerCase() };
  }

  private async deadLetter(line: number, buf: Buffer, error: string): Promise<void> {
    if (line <= (await this.deadLetterTarget()).done) {
      this.progress.skipped++;
      return;
    }
    this.dead.push({
      source: this.source,
      topic: null,
      partition: null,
      offset: BigInt(line),
      key: null,
      value: new Uint8Array(buf),
      error,
      failedAt: Date.now(),
    });
  }

  private report(): void {
    const { onProgress, progressMs } = this.opts;
    if (!onProgress || Date.now() - this.lastReport < (progressMs ?? 2000)) return;
    this.lastReport = Date.now();
    onProgress({ ...this.progress, elapsedMs: Date.now() - this.started });
  }

  private async target(name: string): Promise<Target> {
    let t = this.tables.get(name);
    if (!t) {
      const table = await this.opts.catalog.postTable(name);
      await table.refresh();
      t = { table, done: table.snapshot.txnVersion(this.appId) ?? 0 };
      this.tables.set(name, t);
      if (t.done > 0) {
        this.opts.log.info('resuming: lines already loaded into this table are skipped', {
          table: name,
          upToLine: t.done,
        });
      }
    }
    return t;
  }

  private async deadLetterTarget(): Promise<Target> {
    if (!this.dlq) {
      const table = await this.opts.catalog.deadLetterTable();
      await table.refresh();
      this.dlq = { table, done: table.snapshot.txnVersion(this.appId) ?? 0 };
    }
    return this.dlq;
  }

  /** One batch: dead letters first, then each table's posts, every part with the file's txn (batch-committer.ts). */
  private async flush(): Promise<void> {
    const parts: CommitPart[] = [];
    const dlq = await this.deadLetterPart();
    if (dlq) parts.push(dlq);
    for (const [name, p] of this.pending) {
      const part = await this.postPart(name, p);
      if (part) parts.push(part);
    }
    const outcome = parts.length ? await this.committer.commit(parts, this.appId) : null;
    if (outcome?.kind === 'conflict') throw concurrentLoad(outcome.table, outcome.reason);
    for (const part of parts) {
      const last = Math.max(...part.prepared.txns.map((t) => t.version));
      if (part.table === DEAD_LETTER_TABLE) {
        this.dlq!.done = last;
        this.progress.deadLetters += part.prepared.rows;
      } else {
        this.tables.get(part.table)!.done = last;
        this.opts.maintenance?.afterCommit(this.tables.get(part.table)!.table);
        this.progress.posts += part.prepared.rows;
      }
    }
    this.commits += parts.length;
    this.dead = [];
    this.pending = new Map();
    this.inBatch = 0;
  }

  private async deadLetterPart(): Promise<CommitPart | null> {
    if (this.dead.length === 0) return null;
    const d = await this.deadLetterTarget();
    const fresh = this.dead.filter((x) => Number(x.offset) > d.done);
    if (fresh.length === 0) return null;
    const txns = [{ appId: this.appId, version: Number(fresh[fresh.length - 1].offset) }];
    const prep = await d.table.prepareAppend(deadLetterBatch(fresh), { txns, operation: 'WRITE' });
    return { table: DEAD_LETTER_TABLE, prepared: prepared(prep, DEAD_LETTER_TABLE) };
  }

  private async postPart(name: string, p: Pending): Promise<CommitPart | null> {
    const t = await this.target(name);
    const batch = p.builder.build();
    if (batch.numRows === 0) return null;
    const schema = this.opts.catalog.appendSchema(t.table);
    fitToTable(schema ?? t.table.schema, t.table.partitionColumns, batch);
    const prep = await t.table.prepareAppend(batch, {
      txns: [{ appId: this.appId, version: p.lastLine }],
      schema,
      operation: 'WRITE',
      commitInfo: { engineInfo: 'reddit-stream load' },
    });
    return { table: name, prepared: prepared(prep, name) };
  }
}

/** Another load of the same file committed to `table` meanwhile. */
function concurrentLoad(table: string, reason: string): Error {
  return new ReddStreamError('COMMIT_FAILED', `concurrent load of the same file into ${table}: ${reason}`);
}

function prepared(p: PreparedAppend | Extract<AppendResult, { kind: 'conflict' }>, table: string): PreparedAppend {
  if (p.kind === 'conflict') throw concurrentLoad(table, p.reason);
  return p;
}
