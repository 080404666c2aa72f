/**
 * What a Kafka client error means for the person running the service: the
 * client wraps causes several levels deep (MultipleErrors -> NetworkError ->
 * AuthenticationError ...); the root causes decide the advice.
 */

/** Every error in `err`'s tree (itself, `errors`, `cause`), depth first. */
function* errorTree(err: unknown, depth = 0): Generator<{ code?: string; message: string }> {
  if (!err || typeof err !== 'object' || depth > 8) return;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  yield { code: typeof e.code === 'string' ? e.code : undefined, message: String(e.message ?? '') };
  if (Array.isArray(e.errors)) for (const x of e.errors) yield* errorTree(x, depth + 1);
  if (e.cause) yield* errorTree(e.cause, depth + 1);
}

export type KafkaFailure = 'authentication' | 'tls' | 'missing-topic' | 'unreachable';

export function classifyKafkaFailure(err: unknown): { kind: KafkaFailure; detail: string } {
  const all = [...errorTree(err)];
  const auth = all.find(
    (e) => e.code === 'PLT_KFK_AUTHENTICATION' || /SASL authentication failed|authentication failed/i.test(e.message),
  );
  if (auth) return { kind: 'authentication', detail: auth.message };
  // Node's TLS verification codes (DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED,
  // ERR_TLS_CERT_ALTNAME_INVALID, ...) and OpenSSL handshake failures.
  const tls = all.find(
    (e) =>
      (e.code !== undefined &&
        /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|^ERR_TLS|^ERR_SSL/.test(e.code)) ||
      /certificate/i.test(e.message),
  );
  if (tls) return { kind: 'tls', detail: tls.message };
  const missing = all.find((e) => /unknown topic/i.test(e.message));
  if (missing) return { kind: 'missing-topic', detail: missing.message };
  // The deepest distinct messages say the most.
  const leaves = [...new Set(all.map((e) => e.message).filter(Boolean))].slice(-3);
  return { kind: 'unreachable', detail: leaves.join(' <- ').slice(0, 300) };
}
