/**
 * KafkaSource's buffering without a broker (the broker-backed behaviour is in
 * test/e2e/kafka.test.ts): messages held for a partition whose position cannot
 * be read yet count toward the pause threshold, and are released in order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KafkaSource } from '../../src/kafka/source.ts';
import { silentLogger } from '../../src/logger.ts';

describe('KafkaSource buffering', () => {
  it('pauses fetching when held messages reach the limit, and resumes once they are polled', async () => {
    let failing = true;
    const pipeline = { assign: async () => { if (failing) throw new Error('table store down'); return null; } } as any;
    const src = new KafkaSource({ bootstrapBrokers: ['127.0.0.1:1'], groupId: 'g', clientId: 'c', topics: ['reddit_t'], autoOffsetReset: 'earliest', pipeline, log: silentLogger, maxQueued: 10 });
    const calls: string[] = [];
    const s = src as any;
    s.stream = { pause: () => calls.push('pause'), resume: () => calls.push('resume'), offsetsToFetch: new Map() };
    s.assignment = new Set(['reddit_t:0']);
    s.states.set('reddit_t:0', { kind: 'pending', held: [] });
    await s.assignOne('reddit_t:0'); // fails: stays pending, retried later
    const m = (o: number) => ({ topic: 'reddit_t', partition: 0, offset: BigInt(o), key: null, value: Buffer.from(`{"id":"${o}"}`), timestamp: 0n });
    for (let o = 0; o < 9; o++) s.onMessage(m(o));
    assert.deepEqual(calls, [], 'below the limit');
    s.onMessage(m(9));
    assert.deepEqual(calls, ['pause'], 'held messages alone reach the limit: fetching pauses');
    assert.deepEqual(await src.poll(100), [], 'nothing is released before the position is known');
    assert.deepEqual(calls, ['pause'], 'still full');
    failing = false;
    await s.assignOne('reddit_t:0');
    const got = await src.poll(100);
    assert.deepEqual(got.map((x: { offset: bigint }) => x.offset), Array.from({ length: 10 }, (_, i) => BigInt(i)), 'released in order, none lost');
    await src.poll(100);
    assert.deepEqual(calls, ['pause', 'resume']);
  });
});
