import { TokenBuckets } from './token-bucket.js';

describe('TokenBuckets', () => {
  it('allows a one-second burst, then the rate', () => {
    const buckets = new TokenBuckets(5);
    const results = Array.from({ length: 7 }, () => buckets.take('a', 1_000));
    expect(results).toEqual([0, 0, 0, 0, 0, 1, 1]);
    expect(buckets.take('a', 1_200)).toBe(0); // one token back after 200 ms
    expect(buckets.take('a', 1_200)).toBe(1);
  });

  it('keeps callers apart', () => {
    const buckets = new TokenBuckets(1);
    expect(buckets.take('a', 0)).toBe(0);
    expect(buckets.take('a', 0)).toBe(1);
    expect(buckets.take('b', 0)).toBe(0);
  });

  it('never saves up more than the burst', () => {
    const buckets = new TokenBuckets(2);
    buckets.take('a', 0);
    expect([buckets.take('a', 60_000), buckets.take('a', 60_000), buckets.take('a', 60_000)]).toEqual([0, 0, 1]);
  });

  it('answers whole seconds to wait, at least 1', () => {
    const buckets = new TokenBuckets(3);
    for (let i = 0; i < 3; i++) buckets.take('a', 0);
    expect(buckets.take('a', 0)).toBe(1);
    expect(buckets.take('a', 900)).toBe(0);
  });
});
