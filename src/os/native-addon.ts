/**
 * The compiled addon (`native/`, Rust, napi-rs): loading it, and the
 * functions it exports: the post encoder (used by ingest/native-encoder.ts)
 * and the OS helpers (file locks, allocator settings) of this folder.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeOutput {
  unsure: string | null;
  parquet: Uint8Array | null;
  stats: string | null;
  rows: number;
  duplicates: number;
  dead: number[];
  firstRows: Array<{ subreddit: string | null; title: string | null; score: number | null; createdUtc: number | null }>;
  ids: string[] | null;
  segmentRows: number[] | null;
}

export interface NativePostEncoder {
  encode(
    data: Uint8Array,
    ends: Uint32Array,
    segments: Uint32Array,
    options: {
      keep: boolean;
      maxMessageBytes: number;
      maxNesting: number;
      codec: string;
      numIndexedCols: number;
      withIds: boolean;
      createdBy: string;
    },
  ): Promise<NativeOutput>;
}

export interface NativeAddon {
  PostEncoder: new (fields: string[][]) => NativePostEncoder;
  /** glibc's mallopt(M_MMAP_THRESHOLD): process-wide (see native/src/lib.rs). */
  fixMmapThreshold(bytes: number): boolean;
  /** flock without waiting: the descriptor holding it, or -1 when held elsewhere (absent from addons built before it). */
  lockFile?(path: string): number;
  unlockFile?(fd: number): void;
}

/** Where `scripts/build-native.sh` puts the addon: `native/` at the package root. */
export function defaultAddonPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url)); // src/os or dist/os
  return path.resolve(here, '..', '..', 'native', 'reddit-stream-native.node');
}

/** The addon, or why it cannot be used (not built, or built for another platform). */
export function loadNativeAddon(file = defaultAddonPath()): { addon: NativeAddon } | { error: string } {
  if (!fs.existsSync(file)) {
    return { error: `the native encoder is not built (${file} is missing; run: bash scripts/build-native.sh)` };
  }
  try {
    const addon = createRequire(import.meta.url)(file) as Partial<NativeAddon>;
    // Built from older sources (npm run build compiles only the TypeScript).
    const missing = (['PostEncoder', 'fixMmapThreshold'] as const).filter((k) => typeof addon[k] !== 'function');
    if (missing.length) {
      return {
        error: `the native encoder at ${file} is out of date (no ${missing.join(', ')}; rebuild it: bash scripts/build-native.sh)`,
      };
    }
    return { addon: addon as NativeAddon };
  } catch (err) {
    return { error: `the native encoder at ${file} cannot be loaded: ${(err as Error).message}` };
  }
}
