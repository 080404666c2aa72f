/** Resolve a table URI (local path, file:// URL, memory://) to an ObjectStore. */
import { fileURLToPath } from 'node:url';
import { ReddStreamError } from '../errors.ts';
import { LocalObjectStore } from './local.ts';
import type { ObjectStore } from './object-store.ts';

export type { ObjectMeta, ObjectStore, ListOptions } from './object-store.ts';
export { LocalObjectStore } from './local.ts';
export { MemoryObjectStore } from './memory.ts';

export function openStore(uri: string): ObjectStore {
  if (uri.startsWith('file://')) return new LocalObjectStore(fileURLToPath(uri));
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1];
  if (scheme) {
    throw new ReddStreamError('INVALID_ARGUMENT', `unsupported table URI scheme "${scheme}://" in ${uri}: use a local path or file:// URL (s3:// support is planned)`);
  }
  return new LocalObjectStore(uri);
}
