/**
 * An in-process message source for the demo and tests: topic `reddit_<sub>`,
 * with `partitions` partitions each holding a deterministic sequence of
 * generated posts (offset k of a partition is always the same post), so
 * seeking back re-delivers exactly the same messages, as a broker would.
 */
import { PostGenerator } from '../reddit/generate.ts';
import type { SourceMessage } from './pipeline.ts';

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export class GeneratedPartition {
  readonly topic: string;
  readonly partition: number;
  /** Offsets [0, end) exist. */
  readonly end: bigint;
  private gen: PostGenerator;
  private next = 0n;
  private readonly subreddit: string;
  private readonly seed: number;

  constructor(subreddit: string, partition: number, end: bigint, seed = 1) {
    this.subreddit = subreddit;
    this.topic = `reddit_${subreddit.toLowerCase()}`;
    this.partition = partition;
    this.end = end;
    this.seed = seed;
    this.gen = this.makeGen();
  }

  private makeGen(): PostGenerator {
    return new PostGenerator({
      seed: hash(`${this.topic}/${this.partition}/${this.seed}`),
      subreddits: [this.subreddit],
    });
  }

  /** Position the partition so that `poll` returns `offset` next. */
  seek(offset: bigint): void {
    if (offset < this.next) {
      this.gen = this.makeGen();
      this.next = 0n;
    }
    while (this.next < offset && this.next < this.end) {
      this.gen.next();
      this.next++;
    }
  }

  get position(): bigint {
    return this.next;
  }

  poll(max: number): SourceMessage[] {
    const out: SourceMessage[] = [];
    const enc = new TextEncoder();
    while (out.length < max && this.next < this.end) {
      const post = this.gen.next();
      out.push({
        topic: this.topic,
        partition: this.partition,
        offset: this.next,
        key: enc.encode(String(post.name)),
        value: enc.encode(JSON.stringify(post)),
        timestamp: Date.now(),
      });
      this.next++;
    }
    return out;
  }
}
