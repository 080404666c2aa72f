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

/** What to tell the person running the service about a Kafka failure (the consumer's and the producer's words). */
export function kafkaFailureAdvice(
  f: { kind: KafkaFailure; detail: string },
  o: { side: 'consumer' | 'producer'; brokers: string[]; mechanism?: string; user?: string },
): string {
  switch (f.kind) {
    case 'authentication':
      if (o.side === 'producer') {
        return 'Kafka refused the credentials (check kafka_user / kafka_password and kafka_sasl_mechanism)';
      }
      return `Kafka refused the credentials (${o.mechanism ?? 'SASL'} as user "${o.user ?? ''}"; check kafka_user / kafka_password and kafka_sasl_mechanism)`;
    case 'tls':
      if (o.side === 'producer') {
        return "Kafka's TLS certificate was not accepted (set kafka_ssl_ca to the CA that signed it)";
      }
      return `Kafka's TLS certificate was not accepted (${f.detail}): set kafka_ssl_ca to the PEM file of the CA that signed the brokers' certificates, and check that kafka_host names a host the certificate covers`;
    case 'missing-topic':
      return o.side === 'consumer'
        ? 'a topic does not exist yet (create it, or start the producer first)'
        : 'a topic is missing and could not be created';
    case 'unreachable':
      if (o.side === 'producer') return 'cannot reach Kafka';
      return `cannot reach Kafka at ${o.brokers.join(',')} (is the broker running? is kafka_host right? does kafka_security_protocol match the listener?)`;
  }
}
