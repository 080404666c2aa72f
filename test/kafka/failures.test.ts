import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyKafkaFailure } from '../../src/kafka/failures.ts';

const wrap = (message: string, inner: unknown[], code?: string) =>
  Object.assign(new Error(message), { errors: inner, code });

describe('classifyKafkaFailure', () => {
  it('finds the root cause under nested client errors', () => {
    const auth = wrap('Cannot connect to any broker.', [
      Object.assign(new Error('Connection failed.'), {
        cause: Object.assign(new Error('SASL authentication failed.'), { code: 'PLT_KFK_AUTHENTICATION' }),
      }),
    ]);
    assert.deepEqual(classifyKafkaFailure(auth), { kind: 'authentication', detail: 'SASL authentication failed.' });
    assert.equal(
      classifyKafkaFailure(wrap('joinGroup failed', [new Error('Unknown topic or partition.')])).kind,
      'missing-topic',
    );
    const down = classifyKafkaFailure(
      wrap('Cannot connect to any broker.', [
        Object.assign(new Error('Connection to 127.0.0.1:1 failed.'), {
          cause: new Error('connect ECONNREFUSED 127.0.0.1:1'),
        }),
      ]),
    );
    assert.equal(down.kind, 'unreachable');
    assert.match(down.detail, /ECONNREFUSED/);
    assert.equal(classifyKafkaFailure('odd').kind, 'unreachable');
    const selfSigned = classifyKafkaFailure(
      wrap('Cannot connect to any broker.', [
        Object.assign(new Error('Connection to 127.0.0.1:1 failed.'), {
          cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
        }),
      ]),
    );
    assert.deepEqual(selfSigned, { kind: 'tls', detail: 'self-signed certificate' });
    const wrongName = classifyKafkaFailure(
      wrap('Cannot connect to any broker.', [
        Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {
          code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        }),
      ]),
    );
    assert.equal(wrongName.kind, 'tls');
  });
});
