/**
 * The outage spool: when the table store fails (after the client's retries),
 * a batch's prepared commits — its encoded Parquet files, planned actions and
 * txn offsets, for the dead-letter table and the data table — are written
 * atomically to a local directory, and consumption continues up to a size
 * limit (then it pauses: backpressure, never dropping). Entries are replayed
 * in order when the store answers again.
 *
 * Exactly-once: each spooled commit carries its txns with `expect` (the
 * version the table must hold). Replaying an entry that already landed (a
 * crash between commit and spool cleanup) finds the table at exactly its
 * versions and just removes it; an entry overtaken by another worker finds
 * other versions and is dropped (that worker re-read those offsets).
 *
 * Layout: <dir>/<seq 12 digits>/entry.json + f<N>.parquet, written under
 * <seq>.tmp and renamed into place, so an entry is either complete or absent;
 * a finished entry is renamed to <seq>.done before it is deleted, so a crash
 * while deleting never leaves a half entry behind (leftover .tmp and .done
 * directories are removed on start).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import type { Action } from '../delta/actions.ts';
import { ReddStreamError } from '../errors.ts';
import type { PreparedAppend, PreparedFile } from '../delta/table.ts';
import { syncDir, writeFileDurable } from '../storage/durable.ts';
import { fileLocks } from '../os/file-lock.ts';

export interface SpoolPart {
  /** Table name under the root (`_dead_letters` for dead letters). */
  table: string;
  prepared: PreparedAppend;
}

export interface SpoolEntry {
  seq: number;
  createdAt: number;
  /** Topics whose partitions this entry advances (for per-topic ordering). */
  topics: string[];
  /** Commits to make, in order. */
  parts: SpoolPart[];
  bytes: number;
}

interface StoredPart {
  table: string;
  files: Array<{ file: string; path: string; add: PreparedFile['add'] }>;
  actions: Action[];
  txns: PreparedAppend['txns'];
  rows: number;
  commitInfo: Record<string, unknown>;
}

const pad = (n: number) => String(n).padStart(12, '0');

/** Spool directories this process owns (locked). */
const OWNED = new Set<string>();
/** Consumers on one machine sharing a spool directory setting (`dir`, `dir-2`, ...). */
const MAX_SLOTS = 64;

export class Spool {
  /** The spool's directory (its real path once owned). */
  dir: string;
  /** The directory asked for. */
  readonly requested: string;
  readonly maxBytes: number;
  private entries: Array<{
    seq: number;
    createdAt: number;
    topics: string[];
    tables: string[];
    bytes: number;
    txns: PreparedAppend['txns'];
    parts: Array<{ table: string; txns: PreparedAppend['txns'] }>;
  }> = [];
  private next = 1;
  /** Entries that could not be read on start (kept on disk as <seq>.broken). */
  readonly broken: Array<{ name: string; error: string }> = [];

  constructor(dir: string, options: { maxBytes?: number } = {}) {
    this.dir = nodePath.resolve(dir);
    this.requested = this.dir;
    this.maxBytes = options.maxBytes ?? 1024 * 1024 * 1024;
  }

  /** The real path of the spool while this object owns it. */
  private locked: string | null = null;
  private release: (() => Promise<void>) | null = null;
  private readonly token = `${process.pid} ${randomUUID()}`;

  /**
   * Load the index of complete entries. The owner (`consume`, `spool replay`)
   * takes the spool's lock first, then removes leftovers of interrupted
   * writes and sets unreadable entries aside; only one process may own a
   * spool, since replaying deletes entries. `readOnly` (`spool list`) takes
   * no lock and changes nothing on disk.
   */
  async init(options: { readOnly?: boolean } = {}): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    if (!options.readOnly) await this.lock();
    try {
      await this.load(options.readOnly ?? false);
    } catch (err) {
      await this.close(); // never keep a lock nobody holds a Spool for
      throw err;
    }
  }

  private async load(readOnly: boolean): Promise<void> {
    this.entries = [];
    for (const name of (await fs.readdir(this.dir)).sort()) {
      const full = nodePath.join(this.dir, name);
      if (name.endsWith('.tmp') || name.endsWith('.done')) {
        if (!readOnly) await fs.rm(full, { recursive: true, force: true });
        continue;
      }
      if (!/^\d{12}$/.test(name)) continue;
      let raw: { createdAt: number; topics: string[]; parts: StoredPart[]; bytes: number };
      try {
        raw = JSON.parse(await fs.readFile(nodePath.join(full, 'entry.json'), 'utf8'));
        if (
          !raw ||
          typeof raw !== 'object' ||
          !Array.isArray(raw.parts) ||
          !Array.isArray(raw.topics) ||
          raw.parts.some((p) => !p || typeof p.table !== 'string' || !Array.isArray(p.txns))
        ) {
          throw new Error('entry.json is not a spool entry');
        }
      } catch (err) {
        // Not written by this version's protocol (or damaged): set aside, never crash; `spool list` shows it.
        if (!readOnly) await fs.rename(full, `${full}.broken`).catch(() => undefined);
        this.broken.push({ name, error: (err as Error).message });
        continue;
      }
      this.entries.push({
        seq: Number(name),
        createdAt: raw.createdAt,
        topics: raw.topics,
        tables: raw.parts.map((p) => p.table),
        bytes: raw.bytes,
        txns: raw.parts.flatMap((p) => p.txns),
        parts: raw.parts.map((p) => ({ table: p.table, txns: p.txns })),
      });
      this.next = Math.max(this.next, Number(name) + 1);
    }
  }

  /**
   * Own the spool, or fail naming the process that does. With the native
   * addon the lock is an flock on `<dir>/LOCK`: the kernel releases it when
   * its process ends, however it ends, and it follows the file (a bind
   * mount, a symlink, another container's view of the same volume meet the
   * same lock), so no stale lock is ever judged. Without the addon `LOCK` is
   * created exclusively, and one left by a crash must be deleted by hand.
   * `OWNER` holds the owner's pid for people and messages. After locking,
   * all I/O uses the locked directory's real path (a symlink retargeted
   * later does not move this owner). Within one process a spool is owned
   * once.
   */
  private async lock(): Promise<void> {
    const real = await fs.realpath(this.dir);
    if (OWNED.has(real)) {
      throw new ReddStreamError('SPOOL_BUSY', `the spool ${this.dir} is in use by this process (${process.pid})`);
    }
    OWNED.add(real);
    const file = nodePath.join(real, 'LOCK');
    const busy = async (extra = '') => {
      const holder = (await fs.readFile(nodePath.join(real, 'OWNER'), 'utf8').catch(() => '')).split(' ')[0];
      return new ReddStreamError(
        'SPOOL_BUSY',
        `the spool ${this.dir} is in use by ${/^\d+$/.test(holder) ? `process ${holder}` : 'another process'} (a running consume?): stop it first, or let it replay the spool itself${extra}`,
      );
    };
    try {
      const locks = fileLocks();
      if (locks) {
        const fd = locks.lockFile(file);
        if (fd < 0) throw await busy();
        this.release = async () => locks.unlockFile(fd);
      } else {
        try {
          await fs.writeFile(file, this.token, { flag: 'wx' });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          throw await busy(` (if it is gone, delete ${file}: without the native addon the lock is a plain file)`);
        }
        this.release = async () => {
          if ((await fs.readFile(file, 'utf8').catch(() => null)) === this.token) await fs.rm(file, { force: true });
        };
      }
      await fs.writeFile(nodePath.join(real, 'OWNER'), this.token);
      this.dir = real;
      this.locked = real;
    } catch (err) {
      OWNED.delete(real);
      throw err;
    }
  }

  /**
   * The spool for one more consumer process on this machine: `dir` if no
   * running process owns it, else the first free of `dir-2`, `dir-3`, ...
   * (several workers started in one directory each get their own; after a
   * restart a worker may take over a slot a stopped one left, and replays
   * what waits there: every entry commits exactly once wherever it is
   * replayed, txn versions decide).
   */
  static async claim(dir: string, options: { maxBytes?: number } = {}): Promise<Spool> {
    for (const slot of Spool.slots(dir)) {
      const spool = new Spool(slot, options);
      try {
        await spool.init();
        return spool;
      } catch (err) {
        if (!(err instanceof ReddStreamError && err.code === 'SPOOL_BUSY')) throw err;
      }
    }
    throw new ReddStreamError(
      'SPOOL_BUSY',
      `the spools ${dir} to ${dir}-${MAX_SLOTS} are all in use by running processes`,
    );
  }

  /** The spool directories `claim` may use for `dir`: `dir`, `dir-2`, ... `dir-64`. */
  static slots(dir: string): string[] {
    return Array.from({ length: MAX_SLOTS }, (_, i) => (i === 0 ? dir : `${dir}-${i + 1}`));
  }

  /** Give the lock back (the owner, when it stops). */
  async close(): Promise<void> {
    if (!this.locked) return;
    const real = this.locked;
    this.locked = null;
    const owner = nodePath.join(real, 'OWNER');
    if ((await fs.readFile(owner, 'utf8').catch(() => null)) === this.token) await fs.rm(owner, { force: true });
    await this.release?.();
    this.release = null;
    OWNED.delete(real);
  }

  get bytes(): number {
    return this.entries.reduce((s, e) => s + e.bytes, 0);
  }
  get size(): number {
    return this.entries.length;
  }
  full(): boolean {
    return this.bytes >= this.maxBytes;
  }

  list(): Array<{
    seq: number;
    createdAt: number;
    topics: string[];
    tables: string[];
    bytes: number;
    txns: PreparedAppend['txns'];
  }> {
    return this.entries.map(({ parts: _parts, ...e }) => ({ ...e }));
  }

  hasPendingForTopic(topic: string): boolean {
    return this.entries.some((e) => e.topics.includes(topic));
  }

  /**
   * The highest spooled txn version per app id for `table` (positions
   * consumption has reached there). Per table: the data table and the
   * dead-letter table use the same app ids with different versions.
   */
  positions(table: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.entries) {
      for (const p of e.parts) {
        if (p.table !== table) continue;
        for (const t of p.txns) out.set(t.appId, Math.max(out.get(t.appId) ?? -1, t.version));
      }
    }
    return out;
  }

  async add(topics: string[], parts: SpoolPart[]): Promise<number> {
    const seq = this.next++;
    const tmp = nodePath.join(this.dir, `${pad(seq)}.tmp`);
    try {
      return await this.write(seq, tmp, topics, parts);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  private async write(seq: number, tmp: string, topics: string[], parts: SpoolPart[]): Promise<number> {
    await fs.mkdir(tmp, { recursive: true });
    let n = 0;
    let bytes = 0;
    const stored: StoredPart[] = [];
    for (const p of parts) {
      const files = [];
      for (const f of p.prepared.files) {
        const file = `f${n++}.parquet`;
        await writeFileDurable(nodePath.join(tmp, file), f.bytes);
        bytes += f.bytes.byteLength;
        files.push({ file, path: f.path, add: f.add });
      }
      stored.push({
        table: p.table,
        files,
        actions: p.prepared.actions,
        txns: p.prepared.txns,
        rows: p.prepared.rows,
        commitInfo: p.prepared.commitInfo,
      });
    }
    const createdAt = Date.now();
    await writeFileDurable(
      nodePath.join(tmp, 'entry.json'),
      new TextEncoder().encode(JSON.stringify({ createdAt, topics, parts: stored, bytes })),
    );
    await fs.rename(tmp, nodePath.join(this.dir, pad(seq)));
    await syncDir(this.dir);
    this.entries.push({
      seq,
      createdAt,
      topics,
      tables: parts.map((p) => p.table),
      bytes,
      txns: parts.flatMap((p) => p.prepared.txns),
      parts: parts.map((p) => ({ table: p.table, txns: p.prepared.txns })),
    });
    return seq;
  }

  /** The oldest entry, read back with its files. */
  async oldest(): Promise<SpoolEntry | null> {
    const e = this.entries[0];
    if (!e) return null;
    return this.read(e.seq);
  }

  async read(seq: number): Promise<SpoolEntry> {
    const dir = nodePath.join(this.dir, pad(seq));
    const raw = JSON.parse(await fs.readFile(nodePath.join(dir, 'entry.json'), 'utf8')) as {
      createdAt: number;
      topics: string[];
      parts: StoredPart[];
      bytes: number;
    };
    const parts: SpoolPart[] = [];
    for (const p of raw.parts) {
      const files: PreparedFile[] = [];
      for (const f of p.files) {
        files.push({ path: f.path, add: f.add, bytes: new Uint8Array(await fs.readFile(nodePath.join(dir, f.file))) });
      }
      parts.push({
        table: p.table,
        prepared: { kind: 'prepared', files, actions: p.actions, txns: p.txns, rows: p.rows, commitInfo: p.commitInfo },
      });
    }
    return { seq, createdAt: raw.createdAt, topics: raw.topics, parts, bytes: raw.bytes };
  }

  /** Drop the first `n` parts of an entry (they are committed), or the whole entry. */
  async complete(seq: number, partsDone?: number): Promise<void> {
    const dir = nodePath.join(this.dir, pad(seq));
    const idx = this.entries.findIndex((e) => e.seq === seq);
    if (partsDone !== undefined && idx >= 0) {
      const raw = JSON.parse(await fs.readFile(nodePath.join(dir, 'entry.json'), 'utf8')) as { parts: StoredPart[] };
      if (partsDone < raw.parts.length) {
        const rest = { ...raw, parts: raw.parts.slice(partsDone) };
        const tmp = nodePath.join(dir, 'entry.json.tmp');
        await writeFileDurable(tmp, new TextEncoder().encode(JSON.stringify(rest)));
        await fs.rename(tmp, nodePath.join(dir, 'entry.json'));
        this.entries[idx].tables = rest.parts.map((p) => p.table);
        this.entries[idx].txns = rest.parts.flatMap((p) => p.txns);
        this.entries[idx].parts = rest.parts.map((p) => ({ table: p.table, txns: p.txns }));
        this.entries[idx].bytes = rest.parts.reduce((s, p) => s + p.files.reduce((t, f) => t + f.add.size, 0), 0);
        return;
      }
    }
    // Atomic: after the rename the entry is gone for good, however the delete ends.
    const done = `${dir}.done`;
    await fs.rename(dir, done).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await syncDir(this.dir);
    if (idx >= 0) this.entries.splice(idx, 1);
    await fs.rm(done, { recursive: true, force: true });
  }
}
