/**
 * Buffered messages copied, on arrival, into recycled blocks.
 *
 * A Kafka message value is a view of the socket chunk it arrived in (64 KiB).
 * Held until the flush, the view keeps the whole chunk alive long enough for
 * V8 to move it to the old generation, where it stays as garbage until the
 * next full collection (about every 64 MB of external memory). Copied into a
 * block when pushed, the pipeline lets go of the chunk at once (what the
 * Kafka client itself holds while fetching is paused can still outlive
 * scavenges: see `collectGarbage` in service/run-loop.ts). The blocks go
 * back to a pool when their batch is taken, so steady streaming allocates no
 * buffer per message, and few blocks once the pool holds what a flush cycle
 * uses. The flush joins a topic's blocks into one packed buffer with a few
 * large copies instead of one per message.
 */
import type { PackBuffers, Packed } from './packed-messages.ts';

/**
 * Recycled blocks in size classes from `minBytes` to `maxBytes` (each 4x the
 * one before). An appender's first block is the smallest and each next one a
 * class larger, so a partition holding one small message costs one small
 * block, and a busy one reaches full-size blocks after a few. At most
 * `maxIdleBytes` are kept idle, none after `idleMs` unused.
 */
export class BlockPool {
  readonly minBytes: number;
  readonly maxBytes: number;
  private readonly maxIdleBytes: number;
  private readonly idleMs: number;
  /** Idle blocks by size. */
  private free = new Map<number, Uint8Array[]>();
  private idle = 0;
  private lastUse = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(minBytes = 16 << 10, maxBytes = 1 << 20, maxIdleBytes = 32 << 20, idleMs = 10_000) {
    this.minBytes = minBytes;
    this.maxBytes = Math.max(minBytes, maxBytes);
    this.maxIdleBytes = maxIdleBytes;
    this.idleMs = idleMs;
  }

  get idleBytes(): number {
    return this.idle;
  }

  /** The size class after `size` (the largest stays the largest). */
  next(size: number): number {
    return Math.min(this.maxBytes, size * 4);
  }

  /** A block of class `size`, or of exactly `need` bytes when that is more than the largest class (not pooled). */
  acquire(size: number, need: number): Uint8Array {
    this.lastUse = Date.now();
    while (size < need && size < this.maxBytes) size = this.next(size);
    if (need > size) return new Uint8Array(need);
    const b = this.free.get(size)?.pop();
    if (!b) return new Uint8Array(size);
    this.idle -= size;
    return b;
  }

  /** Give blocks back (blocks outside the size classes, made for one large message, are left to the GC). */
  release(blocks: Uint8Array[]): void {
    this.lastUse = Date.now();
    for (const b of blocks) {
      const n = b.byteLength;
      if (n > this.maxBytes || !this.isClass(n) || this.idle + n > this.maxIdleBytes) continue;
      let list = this.free.get(n);
      if (!list) this.free.set(n, (list = []));
      list.push(b);
      this.idle += n;
    }
    if (this.idle > 0) this.timer ??= setTimeout(() => this.trim(), this.idleMs).unref();
  }

  private isClass(n: number): boolean {
    for (let c = this.minBytes; ; c = this.next(c)) {
      if (c === n) return true;
      if (c >= this.maxBytes) return false;
    }
  }

  /** Drop the idle blocks when the pool has not been used for `idleMs` (runs by itself). */
  trim(now = Date.now()): void {
    this.timer = null;
    if (now - this.lastUse >= this.idleMs) {
      this.free.clear();
      this.idle = 0;
    } else if (this.idle > 0) this.timer = setTimeout(() => this.trim(), this.idleMs).unref();
  }
}

/** Byte strings appended into blocks of a pool; null entries are empty and flagged. */
export class BlockAppender {
  private readonly pool: BlockPool;
  private blocks: Uint8Array[] = [];
  /** Bytes used in each block. */
  private used: number[] = [];
  /** End of entry i counted over the entries only (block tails left unused are not counted). */
  private ends: number[] = [];
  private nullAt: number[] = [];
  private total = 0;

  constructor(pool: BlockPool) {
    this.pool = pool;
  }

  get count(): number {
    return this.ends.length;
  }

  get bytes(): number {
    return this.total;
  }

  /** Bytes of the blocks held (what the entries cost in memory). */
  get heldBytes(): number {
    let n = 0;
    for (const b of this.blocks) n += b.byteLength;
    return n;
  }

  append(v: Uint8Array | null): void {
    if (v === null) {
      this.nullAt.push(this.ends.length);
      this.ends.push(this.total);
      return;
    }
    const n = v.byteLength;
    let last = this.blocks.length - 1;
    if (n > 0 && (last < 0 || this.used[last] + n > this.blocks[last].byteLength)) {
      // The next size class (`next` stops at the largest, also after a block
      // made for a value larger than that; such a value gets its own size).
      const size = last < 0 ? this.pool.minBytes : this.pool.next(this.blocks[last].byteLength);
      this.blocks.push(this.pool.acquire(size, n));
      this.used.push(0);
      last++;
    }
    if (n > 0) {
      this.blocks[last].set(v, this.used[last]);
      this.used[last] += n;
    }
    this.total += n;
    this.ends.push(this.total);
  }

  /** Give the blocks back to the pool; the appender is empty afterwards. */
  release(): void {
    this.pool.release(this.blocks);
    this.blocks = [];
    this.used = [];
    this.ends = [];
    this.nullAt = [];
    this.total = 0;
  }

  /** Copy the entries to `data` at `at` and their ends (shifted by `at`) to `ends` at `index`. */
  copyTo(data: Uint8Array, at: number, ends: Uint32Array, index: number, nulls: Uint8Array | null): void {
    let pos = at;
    for (let b = 0; b < this.blocks.length; b++) {
      data.set(this.blocks[b].subarray(0, this.used[b]), pos);
      pos += this.used[b];
    }
    for (let i = 0; i < this.ends.length; i++) ends[index + i] = at + this.ends[i];
    if (nulls) for (const i of this.nullAt) nulls[index + i] = 1;
  }

  get hasNulls(): boolean {
    return this.nullAt.length > 0;
  }
}

/**
 * Join appenders, in order, into one packed buffer (taken from `buffers` when
 * given), then release their blocks.
 */
export function joinAppenders(parts: BlockAppender[], buffers?: PackBuffers): Packed & { nulls: Uint8Array | null } {
  let total = 0;
  let count = 0;
  let anyNull = false;
  for (const p of parts) {
    total += p.bytes;
    count += p.count;
    anyNull ||= p.hasNulls;
  }
  const data = buffers ? buffers.acquire(total) : new Uint8Array(total);
  const ends = new Uint32Array(count);
  const nulls = anyNull ? new Uint8Array(count) : null;
  let at = 0;
  let index = 0;
  for (const p of parts) {
    p.copyTo(data, at, ends, index, nulls);
    at += p.bytes;
    index += p.count;
    p.release();
  }
  return { data, ends, nulls };
}
