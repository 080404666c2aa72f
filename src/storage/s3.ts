/**
 * S3 ObjectStore (`@aws-sdk/client-s3` v3), for AWS S3 and S3-compatible
 * servers (endpoint override, path-style addressing).
 *
 * - putIfAbsent is `PutObject` with `If-None-Match: *`: 412 means another
 *   writer created the object first (a lost commit race), 409 (a concurrent
 *   conditional write in progress) is retried. Stores that do not enforce the
 *   header would silently overwrite commits, so conditional writes are
 *   required unless `unsafeSingleWriter` is set (an explicit, logged opt-in
 *   for a single writer, like delta-rs's unsafe rename).
 * - Large objects use multipart upload; reads support ranges; listings are
 *   paginated; the SDK retries throttling and 5xx with backoff and jitter.
 * - Errors name the bucket/key and say what to do; credentials never appear.
 * - The SDK is loaded on first use, so processes that only touch local
 *   tables never load it.
 */
import type { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { NotFoundError, ReddStreamError } from '../errors.ts';
import { validateRelativePath, type ListOptions, type ObjectMeta, type ObjectStore } from './object-store.ts';

export interface S3StoreOptions {
  region?: string;
  /** e.g. http://127.0.0.1:7070 for an S3-compatible server. */
  endpoint?: string;
  /** Path-style addressing (bucket in the path), needed by most S3-compatible servers. */
  forcePathStyle?: boolean;
  /** Static credentials; otherwise the standard AWS provider chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** The store does not support conditional writes: allow plain PUTs for commits (single writer only). */
  unsafeSingleWriter?: boolean;
  /** Objects above this size use multipart upload (default 64 MiB). */
  multipartThreshold?: number;
  maxAttempts?: number;
  /**
   * A request fails (and is retried, up to `maxAttempts`) when connecting
   * takes longer than `connectMs` (default 10 s) or its connection is idle,
   * neither sending nor receiving, for `idleMs` (default 30 s): a server or
   * network that stops answering must not hang a commit for ever.
   */
  timeouts?: { connectMs?: number; idleMs?: number };
  /** Share one client between stores of the same bucket. */
  client?: S3Connection;
}

type Sdk = typeof import('@aws-sdk/client-s3');
let sdk: Sdk | undefined;
let sdkLoading: Promise<Sdk> | undefined;

function loadSdk(): Promise<Sdk> {
  return (sdkLoading ??= import('@aws-sdk/client-s3').then(
    (m) => (sdk = m),
    (err) => {
      sdkLoading = undefined; // try again next time
      throw err;
    },
  ));
}

function isServiceError(err: unknown): err is S3ServiceException {
  return sdk !== undefined && err instanceof sdk.S3ServiceException;
}

/** An S3 client made on first use (loading the SDK then), shared by the stores of a root. */
export class S3Connection {
  private client: Promise<{ client: S3Client; sdk: Sdk }> | undefined;
  private readonly o: S3StoreOptions;

  constructor(o: S3StoreOptions) {
    this.o = o;
  }

  get(): Promise<{ client: S3Client; sdk: Sdk }> {
    return (this.client ??= loadSdk().then(
      (m) => ({ client: makeS3Client(m, this.o), sdk: m }),
      (err) => {
        this.client = undefined;
        throw err;
      },
    ));
  }
}

export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m || !m[1]) {
    throw new ReddStreamError(
      'INVALID_TABLE_URI',
      `invalid S3 URI ${JSON.stringify(uri)}: expected s3://bucket/prefix`,
    );
  }
  return { bucket: m[1], prefix: m[2].replace(/\/+$/, '') };
}

function makeS3Client(m: Sdk, o: S3StoreOptions): S3Client {
  return new m.S3Client({
    region: o.region ?? 'us-east-1',
    endpoint: o.endpoint,
    forcePathStyle: o.forcePathStyle ?? Boolean(o.endpoint),
    credentials: o.credentials,
    maxAttempts: o.maxAttempts ?? 5,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: o.timeouts?.connectMs ?? 10_000, socketTimeout: o.timeouts?.idleMs ?? 30_000 },
  });
}

export class S3ObjectStore implements ObjectStore {
  readonly url: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly connection: S3Connection;
  private readonly o: S3StoreOptions;

  constructor(uri: string, options: S3StoreOptions = {}) {
    const { bucket, prefix } = parseS3Uri(uri);
    this.bucket = bucket;
    this.prefix = prefix;
    this.url = `s3://${bucket}${prefix ? '/' + prefix : ''}`;
    this.o = options;
    this.connection = options.client ?? new S3Connection(options);
  }

  /** A store for a sub-path (e.g. one table under a root), sharing the client. */
  child(name: string): S3ObjectStore {
    return new S3ObjectStore(`${this.url}/${name}`, { ...this.o, client: this.connection });
  }

  private key(path: string): string {
    return this.prefix ? `${this.prefix}/${path}` : path;
  }

  async get(path: string): Promise<Uint8Array> {
    try {
      const { client, sdk: m } = await this.connection.get();
      const r = await client.send(new m.GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return await r.Body!.transformToByteArray();
    } catch (err) {
      throw this.mapError(err, path, 'read');
    }
  }

  async getRange(path: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    try {
      const { client, sdk: m } = await this.connection.get();
      const r = await client.send(
        new m.GetObjectCommand({ Bucket: this.bucket, Key: this.key(path), Range: `bytes=${start}-${end - 1}` }),
      );
      return await r.Body!.transformToByteArray();
    } catch (err) {
      if (isServiceError(err) && err.$metadata.httpStatusCode === 416) return new Uint8Array(0);
      throw this.mapError(err, path, 'read');
    }
  }

  async head(path: string): Promise<ObjectMeta | null> {
    try {
      const { client, sdk: m } = await this.connection.get();
      const r = await client.send(new m.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return { path, size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0) };
    } catch (err) {
      if (
        isServiceError(err) &&
        (err.name === 'NotFound' ||
          err.name === 'NoSuchKey' ||
          (err.$metadata.httpStatusCode === 404 && !/User|Bucket/.test(err.name)))
      ) {
        return null;
      }
      throw this.mapError(err, path, 'read');
    }
  }

  async list(prefix: string, options?: ListOptions): Promise<ObjectMeta[]> {
    const out: ObjectMeta[] = [];
    const base = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    try {
      const { client, sdk: m } = await this.connection.get();
      do {
        const r = await client.send(
          new m.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: base + prefix,
            ContinuationToken: token,
            StartAfter:
              token === undefined && options?.startAfter !== undefined ? base + options.startAfter : undefined,
          }),
        );
        for (const o of r.Contents ?? []) {
          if (!o.Key || !o.Key.startsWith(base)) continue;
          const rel = o.Key.slice(base.length);
          if (options?.startAfter !== undefined && rel <= options.startAfter) continue;
          out.push({ path: rel, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.mapError(err, prefix, 'list');
    }
    return out;
  }

  async put(path: string, data: Uint8Array): Promise<void> {
    validateRelativePath(path);
    if (data.byteLength > (this.o.multipartThreshold ?? 64 * 1024 * 1024)) return this.multipart(path, data);
    try {
      const { client, sdk: m } = await this.connection.get();
      await client.send(new m.PutObjectCommand({ Bucket: this.bucket, Key: this.key(path), Body: data }));
    } catch (err) {
      throw this.mapError(err, path, 'write');
    }
  }

  async putIfAbsent(path: string, data: Uint8Array): Promise<boolean> {
    validateRelativePath(path);
    if (this.o.unsafeSingleWriter) {
      if (await this.head(path)) return false;
      await this.put(path, data);
      return true;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const { client, sdk: m } = await this.connection.get();
        await client.send(
          new m.PutObjectCommand({ Bucket: this.bucket, Key: this.key(path), Body: data, IfNoneMatch: '*' }),
        );
        return true;
      } catch (err) {
        const status = isServiceError(err) ? err.$metadata.httpStatusCode : undefined;
        if (status === 412) return false;
        if (status === 409 && attempt < 10) {
          await new Promise((r) => setTimeout(r, 50 * attempt + Math.random() * 50));
          continue;
        }
        if (status === 501 || (isServiceError(err) && err.name === 'NotImplemented')) {
          throw new ReddStreamError(
            'UNSUPPORTED_FEATURE',
            `${this.url}: the S3 server does not support conditional writes (If-None-Match), which Delta commits need to be safe with concurrent writers; use a server that does, or set s3_unsafe_single_writer: true if exactly one process ever writes these tables`,
            { cause: err },
          );
        }
        throw this.mapError(err, path, 'write');
      }
    }
  }

  async delete(path: string): Promise<void> {
    try {
      const { client, sdk: m } = await this.connection.get();
      await client.send(new m.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
    } catch (err) {
      if (isServiceError(err) && err.$metadata.httpStatusCode === 404) return;
      throw this.mapError(err, path, 'delete');
    }
  }

  private async multipart(path: string, data: Uint8Array): Promise<void> {
    const Key = this.key(path);
    let uploadId: string | undefined;
    let conn: Awaited<ReturnType<S3Connection['get']>> | undefined;
    try {
      conn = await this.connection.get();
      const { client, sdk: m } = conn;
      const c = await client.send(new m.CreateMultipartUploadCommand({ Bucket: this.bucket, Key }));
      uploadId = c.UploadId!;
      const partSize = 16 * 1024 * 1024;
      const parts = [];
      for (let off = 0, n = 1; off < data.byteLength; off += partSize, n++) {
        const r = await client.send(
          new m.UploadPartCommand({
            Bucket: this.bucket,
            Key,
            UploadId: uploadId,
            PartNumber: n,
            Body: data.subarray(off, off + partSize),
          }),
        );
        parts.push({ ETag: r.ETag, PartNumber: n });
      }
      await client.send(
        new m.CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      if (uploadId && conn) {
        await conn.client
          .send(new conn.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw this.mapError(err, path, 'write');
    }
  }

  /** The store's error for a failed S3 call: NotFoundError, or a coded ReddStreamError saying what to do. */
  private mapError(err: unknown, path: string, op: string): Error {
    const where = `s3://${this.bucket}/${this.key(path)}`;
    if (isServiceError(err)) return serviceError(err, this.bucket, where, op);
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code !== undefined && UNREACHABLE.has(code)) {
      return new ReddStreamError(
        'STORAGE_UNAVAILABLE',
        `cannot reach the S3 endpoint ${this.o.endpoint ?? '(AWS)'} to ${op} ${where} (${code}): check s3_endpoint and that the server is running`,
        { cause: err },
      );
    }
    if (err instanceof ReddStreamError) return err;
    const msg = (err as Error)?.message ?? String(err);
    if (/credential/i.test(msg)) {
      return new ReddStreamError(
        'STORAGE_REFUSED',
        `no AWS credentials for ${where}: set aws_client/aws_secret in creds.json, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an AWS profile`,
        { cause: err },
      );
    }
    return new ReddStreamError('STORAGE_UNAVAILABLE', `S3 ${op} of ${where} failed: ${msg}`, { cause: err });
  }
}

/** Network errors meaning the endpoint cannot be reached (worth retrying later). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT']);

/**
 * The store's error for an error answer of S3: a missing object, a refusal
 * that only the user can fix (bucket, keys, permissions, other 4xx), or a
 * failure worth retrying (5xx, throttling, no status).
 */
function serviceError(err: S3ServiceException, bucket: string, where: string, op: string): Error {
  const refused = (message: string) => new ReddStreamError('STORAGE_REFUSED', message, { cause: err });
  switch (err.name) {
    case 'NoSuchKey':
    case 'NotFound':
      return new NotFoundError(where, { cause: err });
    case 'NoSuchBucket':
      return refused(`bucket "${bucket}" does not exist (${op} ${where}): create it or fix the table URI`);
    case 'InvalidAccessKeyId':
    case 'XAdminUserNotFound':
    case 'InvalidClientTokenId':
      return refused(`S3 rejected the access key for ${where}: check aws_client in creds.json or AWS_ACCESS_KEY_ID`);
    case 'SignatureDoesNotMatch':
      return refused(
        `S3 rejected the request signature for ${where}: the secret key is wrong (aws_secret in creds.json or AWS_SECRET_ACCESS_KEY)`,
      );
    case 'AccessDenied':
      return refused(
        `access denied to ${op} ${where}: grant s3:GetObject, s3:PutObject, s3:ListBucket and s3:DeleteObject on the bucket to these credentials`,
      );
  }
  const status = err.$metadata.httpStatusCode;
  const retryable = status === undefined || status >= 500 || status === 429;
  return new ReddStreamError(
    retryable ? 'STORAGE_UNAVAILABLE' : 'STORAGE_REFUSED',
    `S3 ${op} of ${where} failed: ${err.name}${status ? ` (HTTP ${status})` : ''}`,
    { cause: err },
  );
}
