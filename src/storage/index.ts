/** Resolve a table URI (local path, file:// URL, s3://) to an ObjectStore. */
import { fileURLToPath } from 'node:url';
import { ReddStreamError } from '../errors.ts';
import { LocalObjectStore } from './local.ts';
import type { ObjectStore } from './object-store.ts';
import { S3ObjectStore, type S3StoreOptions } from './s3.ts';

export type { ObjectMeta, ObjectStore, ListOptions } from './object-store.ts';
export { LocalObjectStore } from './local.ts';
export { MemoryObjectStore } from './memory.ts';
export { S3ObjectStore, parseS3Uri, type S3StoreOptions } from './s3.ts';

export function isS3Uri(uri: string): boolean {
  return /^s3a?:\/\//i.test(uri);
}

export function openStore(uri: string, s3?: S3StoreOptions): ObjectStore {
  if (uri.startsWith('file://')) return new LocalObjectStore(fileURLToPath(uri));
  if (isS3Uri(uri)) return new S3ObjectStore(uri, s3);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1];
  if (scheme) {
    throw new ReddStreamError(
      'INVALID_TABLE_URI',
      `unsupported table URI scheme "${scheme}://" in ${uri}: use a local path, file:// or s3://`,
    );
  }
  return new LocalObjectStore(uri);
}
