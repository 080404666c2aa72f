import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { msUntilDue, shouldFlush, type BufferState, type FlushPolicy } from '../../src/ingest/flush-policy.ts';

const policy: FlushPolicy = { maxMessages: 100, maxBytes: 1000, maxLatencyMs: 500 };

describe('shouldFlush', () => {
  const cases: Array<[string, BufferState, number, ReturnType<typeof shouldFlush>]> = [
    ['empty buffer never flushes', { messages: 0, bytes: 0, firstAt: null }, 10_000, null],
    ['below every limit', { messages: 10, bytes: 100, firstAt: 0 }, 499, null],
    ['message count reached', { messages: 100, bytes: 10, firstAt: 0 }, 1, 'messages'],
    ['byte limit reached', { messages: 1, bytes: 1000, firstAt: 0 }, 1, 'bytes'],
    ['latency reached with no new message', { messages: 1, bytes: 1, firstAt: 0 }, 500, 'latency'],
    ['count wins over latency', { messages: 150, bytes: 1, firstAt: 0 }, 900, 'messages'],
  ];
  for (const [name, buf, now, expected] of cases) it(name, () => assert.equal(shouldFlush(buf, now, policy), expected));

  it('tells the timer when the oldest message becomes due', () => {
    assert.equal(msUntilDue({ messages: 1, bytes: 1, firstAt: 1000 }, 1200, policy), 300);
    assert.equal(msUntilDue({ messages: 1, bytes: 1, firstAt: 0 }, 9999, policy), 0);
    assert.equal(msUntilDue({ messages: 0, bytes: 0, firstAt: null }, 0, policy), null);
  });
});
