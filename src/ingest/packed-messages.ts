/**
 * Messages packed back to back in one buffer (one copy, transferable to a
 * worker thread whole), and the recycled buffers they are packed into.
 */

/**
 * Buffers for packing jobs, recycled: a job's buffer comes back with its
 * result, so steady streaming does not allocate (and page-fault) a fresh
 * multi-megabyte buffer per flush. At most `keep` idle buffers are held, and
 * none that sat unused for `idleMs` (a quiet service gives the memory back).
 */
export class PackBuffers {
  private free: Array<{ buf: ArrayBuffer; at: number }> = [];
  private readonly keep: number;
  private readonly idleMs: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(keep = 2, idleMs = 10_000) {
    this.keep = keep;
    this.idleMs = idleMs;
  }

  /** Bytes held in idle buffers. */
  get idleBytes(): number {
    return this.free.reduce((n, f) => n + f.buf.byteLength, 0);
  }

  acquire(size: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i].buf;
      if (
        b.byteLength >= size &&
        b.byteLength <= 2 * size + (1 << 20) &&
        (best < 0 || b.byteLength < this.free[best].buf.byteLength)
      ) {
        best = i;
      }
    }
    if (best >= 0) return new Uint8Array(this.free.splice(best, 1)[0].buf, 0, size);
    // Rounded up so buffers fit batches of similar size.
    return new Uint8Array(new ArrayBuffer(Math.ceil(Math.max(size, 1) / (1 << 20)) * (1 << 20)), 0, size);
  }

  release(buf: ArrayBuffer | undefined): void {
    if (!buf || buf.byteLength === 0 || buf.byteLength > 256 << 20) return;
    this.free.push({ buf, at: Date.now() });
    if (this.free.length > this.keep) this.free.sort((a, b) => b.buf.byteLength - a.buf.byteLength).pop();
    this.timer ??= setTimeout(() => this.trim(), this.idleMs).unref();
  }

  /** Drop buffers idle for `idleMs` (runs by itself after releases). */
  trim(now = Date.now()): void {
    this.timer = null;
    this.free = this.free.filter((f) => now - f.at < this.idleMs);
    if (this.free.length) this.timer = setTimeout(() => this.trim(), this.idleMs).unref();
  }
}

/** Byte strings back to back (one copy; null entries are empty and flagged). */
export interface Packed {
  data: Uint8Array;
  /** End of entry i in `data` (entry i spans ends[i-1] (or 0) .. ends[i]). */
  ends: Uint32Array;
}

/** Pack byte strings into one buffer (for a job: transferable; taken from `buffers` when given). */
export function packMessages(
  values: ArrayLike<Uint8Array | null>,
  buffers?: PackBuffers,
): Packed & { nulls: Uint8Array | null } {
  let total = 0;
  let nulls: Uint8Array | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null) (nulls ??= new Uint8Array(values.length))[i] = 1;
    else total += v.byteLength;
  }
  const data = buffers ? buffers.acquire(total) : new Uint8Array(total);
  const ends = new Uint32Array(values.length);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null) {
      data.set(v, at);
      at += v.byteLength;
    }
    ends[i] = at;
  }
  return { data, ends, nulls };
}

/** Entry `i` of a packed buffer (a view). */
export function packedEntry(p: Packed, i: number): Uint8Array {
  return p.data.subarray(i === 0 ? 0 : p.ends[i - 1], p.ends[i]);
}
