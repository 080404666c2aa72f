/**
 * Reading input files line by line with constant memory: NDJSON, `.gz` or
 * `.zst` (Reddit dump archives, which need a 2 GiB zstd window), with a
 * fingerprint that names a file for resumable loads.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';

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
