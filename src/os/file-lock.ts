/**
 * Exclusive file locks (flock, without waiting) through the native addon:
 * the kernel releases a lock when its owner ends, so no stale lock is ever
 * judged. Null without the addon (or with one built before it had locks).
 */
import { loadNativeAddon, type NativeAddon } from './native-addon.ts';

export type FileLocks = Required<Pick<NativeAddon, 'lockFile' | 'unlockFile'>>;

export function fileLocks(): FileLocks | null {
  const loaded = loadNativeAddon();
  if ('error' in loaded) return null;
  const { lockFile, unlockFile } = loaded.addon;
  return lockFile && unlockFile ? { lockFile, unlockFile } : null;
}
